"""Every diagnostic code, with its one-line title and its long explanation
(`sedsl explain CODE`). docs/language.md lists the same table."""

from __future__ import annotations

from sedsl.diagnostics.codes import Code

CODES: dict[Code, tuple[str, str]] = {
    Code.SYNTAX: (
        "syntax error",
        """The file does not follow the grammar (grammars/space.lark), is not
UTF-8 text, contains NUL bytes, or is too large. The message names what the parser expected at
that point, in words: `expected one of `)`, `,` or a name, found `=``.

    opset bad(x: [B, C, H, W] -> [B, C, 1, 1] { gap }
                              ^^ expected `)`
""",
    ),
    Code.CANNOT_READ: ("cannot read file", "The file does not exist or cannot be read."),
    Code.TOO_DEEP: (
        "nesting too deep",
        """An expression is nested more than 200 levels deep. Name the
intermediate values instead: `a = f(x)`, `b = g(a)`.""",
    ),
    Code.UNKNOWN_NAME: (
        "unknown name",
        """A name is used that is not a node, input, parameter, dim,
primitive, op or op set in scope. The help line suggests the closest known name.

    s = sqeeze_ch(x)      # did you mean `squeeze_ch`?
""",
    ),
    Code.DUPLICATE: (
        "duplicate definition",
        """A name is defined twice: two ops, two params, a node
assigned twice (the DAG has no mutation), a candidate listed twice in one op set, two genotypes
with one name, or an op that reuses a primitive's name.""",
    ),
    Code.WRONG_VALUE: (
        "wrong parameter value",
        """A parameter gets a value of the wrong type or one it does not
accept: `param reduction: int = 1.5`, `conv1d(k="3")`, a tensor where a number is expected,
`avg_pool(over="w")` (over is "hw" or "c"), an unknown parameter type, an extern op's code that
is not "package.module:attribute".""",
    ),
    Code.BAD_KEYWORD: (
        "unknown, missing or repeated keyword",
        """An op is called with a keyword it does not have, without one it
needs, or with one twice. The notes list its parameters.

    conv2d(x, outs=C)      # `conv2d` has no parameter `outs`; it needs `out`
""",
    ),
    Code.NOT_CONSTANT: (
        "value must be constant",
        """The structure of a space is fixed when it is resolved, so loop
bounds, indices, `split`'s number of parts, parameter defaults, recipe settings and point
values must be constants (numbers, or expressions of parameters), not sizes like `C`.""",
    ),
    Code.NOT_A_SIZE: (
        "not an integer size expression",
        """A size (a shape's axis, a `dim` default, either side of a
`require`) is an integer expression over dims and int parameters; `ceil`, `max` and `min`
take such expressions; a `require` is one comparison of two of them. A string, a float or a
tensor cannot stand there.""",
    ),
    Code.OUT_OF_RANGE: (
        "index or size out of range",
        """An index is outside its list (`F[4]` of a 4-way split), or a
loop or a split would unroll more nodes than a block allows.""",
    ),
    Code.WRONG_ARITY: (
        "wrong number of arguments",
        """An op gets more or fewer tensor inputs than its
signature has. Tensors are positional; parameters are keywords: `conv2d(x, out=1, k=3)`.""",
    ),
    Code.NOT_PYTHON_NAME: (
        "name cannot become Python",
        """Every name in a space becomes a Python identifier
in generated code (a class, an attribute, a variable). Names must be ASCII identifiers, not
Python keywords, not dunder names, and not names the generated code relies on (`torch`, `nn`,
`self`, `F`, `max`, ...). This keeps any text in a .space file from becoming code.""",
    ),
    Code.MISPLACED: (
        "misplaced construct",
        """A construct is used where it has no meaning: an op set
called outside the block, two searched edges in one assignment (each edge is named by the node
it is assigned to), a number assigned to a node, arithmetic on a list, a missing `space`
declaration.""",
    ),
    Code.CANDIDATE_SIGNATURE: (
        "candidate misses its op set's signature",
        """An op set declares one signature,
e.g. `(x: [B, C, H, W]) -> [B, C, 1, 1]`, and every candidate must produce exactly that shape
from that input. DARTS mixes the candidates' outputs with softmax weights, so they must agree.
The message gives the expected and actual shape and, when it fails only at some sizes, the
bindings: `with C=16, reduction=32: C // reduction = 0`.""",
    ),
    Code.BROADCAST: (
        "illegal broadcast",
        """Two tensors are combined with + - * / but their shapes do
not broadcast: on every axis the sizes must be equal or one of them 1. [B, C, 1, 1] * [B, C, H, W]
is fine; [B, C, 1, 1] * [B, 1, H, W] is too (a full map); [B, C, H, W] + [B, C/2, H, W] is not,
except at a point where C = 2 (there C/2 is 1), since each point builds its own module and
broadcasts as torch does. The result's axis is the larger of the two.""",
    ),
    Code.CONCAT: (
        "concat mismatch",
        """concat joins tensors along channels; all other axes must be
equal. The message names the input and the axis that differ.""",
    ),
    Code.SHAPE_MISMATCH: (
        "shape mismatch",
        """A tensor does not have the shape its use declares: an argument
of a composite op, the input of a searched edge, the result of an op or of the block.""",
    ),
    Code.PRECONDITION: (
        "op precondition fails",
        """A primitive's condition on sizes fails at some
instantiation point: an even kernel that cannot keep the size, groups that do not divide the
channels, a width that reaches zero.""",
    ),
    Code.SIGNATURE_NO_CANDIDATE: (
        "no candidate meets the op set's signature",
        """Every candidate of an op set misses its declared
signature, so the mistake is most likely in the signature: one error at the signature lists
the candidates and what each gives, instead of one E020 per candidate.

    opset squeeze(x: [B, C, H, W]) -> [B, C, H, 1] { avg_pool, max_pool }
    ^^^^^ both give [B, C, 1, 1]
""",
    ),
    Code.SIZE_ARITHMETIC: (
        "invalid size arithmetic",
        """Arithmetic on sizes that has no value: a division by zero
(`C // 0`, `ceil(C / 0)`), an exponent that is not a small non-negative integer, or `/` on
sizes that does not divide exactly at a point (`C / K` with C=18, K=4; write `C // K` or
`require C % K == 0`).""",
    ),
    Code.CYCLE: (
        "cycle",
        """The nodes of a block form a cycle: a node uses, through others, itself.
A block is a DAG; the message lists the cycle.""",
    ),
    Code.UNUSED_NODE: (
        "unused node",
        """A node is computed but never reaches the block's result. In a
supernet an unused searched edge would train architecture weights that change nothing, so
this is an error, not a warning.""",
    ),
    Code.UNREACHABLE_NODE: (
        "unreachable node",
        """A node does not depend on the block's input, so it cannot be
part of the attention computed from it.""",
    ),
    Code.REQUIREMENT: (
        "constraint violated",
        """A `require` condition fails at a declared instantiation
point. The notes give the point and the values: `with C=16, reduction=32: C // reduction = 0`.""",
    ),
    Code.BAD_POINTS: (
        "bad instantiation points",
        """A `check` declaration names a dim the block's input
does not have, or a point has the wrong number of values, or a value is not a positive
integer.""",
    ),
    Code.GENOTYPE_UNKNOWN_EDGE: (
        "genotype names an unknown edge",
        """A genotype chooses an op for an edge that is
not a searched edge of the block. Searched edges are named by the node they are assigned to.""",
    ),
    Code.GENOTYPE_UNKNOWN_CANDIDATE: (
        "genotype names an unknown candidate",
        """A genotype chooses a candidate that is not
in the op set of that edge. The notes list the set's candidates.""",
    ),
    Code.GENOTYPE_MISSING_EDGE: (
        "genotype misses an edge",
        """A genotype must choose exactly one candidate for
every searched edge; the message lists the edges it leaves out.""",
    ),
    Code.GENOTYPE_TWICE: ("genotype chooses twice", "A genotype chooses for the same edge twice."),
    Code.IMPORT_NOT_FOUND: (
        "import not found",
        """An `import "path"` names a file that does not exist. Paths are
relative to the importing file.""",
    ),
    Code.IMPORT_CYCLE: (
        "import cycle",
        "Files import each other in a cycle; the message lists it.",
    ),
    Code.INTERNAL_ERROR: (
        "internal error",
        """sedsl itself failed on this file: an exception inside `check`,
`fmt`, `explain` or `generate`. It is a bug in sedsl, not a verdict on the file; the command
exits 3, never with a traceback. Run it again with SEDSL_TRACEBACK=1 to print the traceback,
and report it with the file.""",
    ),
    Code.UNPROVED: (
        "could not prove",
        """A condition on sizes (`C % K == 0`, a broadcast of H against
W) could not be proved for all sizes and no instantiation point decides it. Declare points with
`check`, or state the assumption with `require`.""",
    ),
    Code.NO_POINTS: (
        "no instantiation points",
        """The space declares no `check` points, so conditions
that depend on sizes are not verified.""",
    ),
    Code.UNUSED_DECLARATION: ("unused declaration", "An op or op set of this file is never used."),
    Code.IGNORED_IN_IMPORT: (
        "ignored in an imported file",
        """An imported file contributes params, ops and op
sets only; its blocks, genotypes, checks and recipes are ignored.""",
    ),
}


def explain(code: str) -> str | None:
    entry = CODES.get(code.upper())  # a Code is its text, so "E010" finds Code.UNKNOWN_NAME
    if entry is None:
        return None
    title, body = entry
    return f"{code.upper()}: {title}\n\n{body.strip()}\n"
