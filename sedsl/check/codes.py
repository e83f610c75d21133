"""Every diagnostic code, with its one-line title and its long explanation
(`sedsl explain CODE`). docs/language.md lists the same table."""

from __future__ import annotations

CODES: dict[str, tuple[str, str]] = {
    "E001": (
        "syntax error",
        """The file does not follow the grammar (grammars/space.lark), is not
UTF-8 text, contains NUL bytes, or is too large. The message names what the parser expected at
that point, in words: `expected one of `)`, `,` or a name, found `=``.

    opset bad(x: [B, C, H, W] -> [B, C, 1, 1] { gap }
                              ^^ expected `)`
""",
    ),
    "E002": ("cannot read file", "The file does not exist or cannot be read."),
    "E003": (
        "nesting too deep",
        """An expression is nested more than 200 levels deep. Name the
intermediate values instead: `a = f(x)`, `b = g(a)`.""",
    ),
    "E010": (
        "unknown name",
        """A name is used that is not a node, input, parameter, dim,
primitive, op or op set in scope. The help line suggests the closest known name.

    s = sqeeze_ch(x)      # did you mean `squeeze_ch`?
""",
    ),
    "E011": (
        "duplicate definition",
        """A name is defined twice: two ops, two params, a node
assigned twice (the DAG has no mutation), a candidate listed twice in one op set, two genotypes
with one name, or an op that reuses a primitive's name.""",
    ),
    "E012": (
        "wrong parameter or value",
        """A parameter gets a value of the wrong type
(`param reduction: int = 1.5`, `conv1d(k="3")`), an unknown keyword, a missing required
parameter, or a value that must be constant is not (loop bounds, indices).""",
    ),
    "E013": (
        "wrong number of arguments",
        """An op gets more or fewer tensor inputs than its
signature has. Tensors are positional; parameters are keywords: `conv2d(x, out=1, k=3)`.""",
    ),
    "E014": (
        "name cannot become Python",
        """Every name in a space becomes a Python identifier
in generated code (a class, an attribute, a variable). Names must be ASCII identifiers, not
Python keywords, not dunder names, and not names the generated code relies on (`torch`, `nn`,
`self`, `F`, `max`, ...). This keeps any text in a .space file from becoming code.""",
    ),
    "E015": (
        "misplaced construct",
        """A construct is used where it has no meaning: an op set
called outside the block, two searched edges in one assignment (each edge is named by the node
it is assigned to), a number assigned to a node, arithmetic on a list, a missing `space`
declaration.""",
    ),
    "E020": (
        "candidate misses its op set's signature",
        """An op set declares one signature,
e.g. `(x: [B, C, H, W]) -> [B, C, 1, 1]`, and every candidate must produce exactly that shape
from that input. DARTS mixes the candidates' outputs with softmax weights, so they must agree.
The message gives the expected and actual shape and, when it fails only at some sizes, the
bindings: `with C=16, reduction=32: C // reduction = 0`.""",
    ),
    "E021": (
        "illegal broadcast",
        """Two tensors are combined with + - * / but their shapes do
not broadcast: on every axis the sizes must be equal or one of them 1. [B, C, 1, 1] * [B, C, H, W]
is fine; [B, C, 1, 1] * [B, 1, H, W] is too (a full map); [B, C, H, W] + [B, C/2, H, W] is not,
except at a point where C = 2 (there C/2 is 1), since each point builds its own module and
broadcasts as torch does. The result's axis is the larger of the two.""",
    ),
    "E022": (
        "concat mismatch",
        """concat joins tensors along channels; all other axes must be
equal. The message names the input and the axis that differ.""",
    ),
    "E023": (
        "shape mismatch",
        """A tensor does not have the shape its use declares: an argument
of a composite op, the input of a searched edge, the result of an op or of the block.""",
    ),
    "E024": (
        "op precondition fails",
        """A primitive's condition on sizes fails at some
instantiation point: an even kernel that cannot keep the size, groups that do not divide the
channels, a width that reaches zero.""",
    ),
    "E025": (
        "no candidate meets the op set's signature",
        """Every candidate of an op set misses its declared
signature, so the mistake is most likely in the signature: one error at the signature lists
the candidates and what each gives, instead of one E020 per candidate.

    opset squeeze(x: [B, C, H, W]) -> [B, C, H, 1] { avg_pool, max_pool }
    ^^^^^ both give [B, C, 1, 1]
""",
    ),
    "E030": (
        "cycle",
        """The nodes of a block form a cycle: a node uses, through others, itself.
A block is a DAG; the message lists the cycle.""",
    ),
    "E031": (
        "unused node",
        """A node is computed but never reaches the block's result. In a
supernet an unused searched edge would train architecture weights that change nothing, so
this is an error, not a warning.""",
    ),
    "E032": (
        "unreachable node",
        """A node does not depend on the block's input, so it cannot be
part of the attention computed from it.""",
    ),
    "E040": (
        "constraint violated",
        """A `require` condition fails at a declared instantiation
point. The notes give the point and the values: `with C=16, reduction=32: C // reduction = 0`.""",
    ),
    "E041": (
        "bad instantiation points",
        """A `check` declaration names a dim the block's input
does not have, or a point has the wrong number of values, or a value is not a positive
integer.""",
    ),
    "E050": (
        "genotype names an unknown edge",
        """A genotype chooses an op for an edge that is
not a searched edge of the block. Searched edges are named by the node they are assigned to.""",
    ),
    "E051": (
        "genotype names an unknown candidate",
        """A genotype chooses a candidate that is not
in the op set of that edge. The notes list the set's candidates.""",
    ),
    "E052": (
        "genotype misses an edge",
        """A genotype must choose exactly one candidate for
every searched edge; the message lists the edges it leaves out.""",
    ),
    "E053": ("genotype chooses twice", "A genotype chooses for the same edge twice."),
    "E060": (
        "import not found",
        """An `import "path"` names a file that does not exist. Paths are
relative to the importing file.""",
    ),
    "E061": ("import cycle", "Files import each other in a cycle; the message lists it."),
    "W001": (
        "could not prove",
        """A condition on sizes (`C % K == 0`, a broadcast of H against
W) could not be proved for all sizes and no instantiation point decides it. Declare points with
`check`, or state the assumption with `require`.""",
    ),
    "W002": (
        "no instantiation points",
        """The space declares no `check` points, so conditions
that depend on sizes are not verified.""",
    ),
    "W010": ("unused declaration", "An op or op set of this file is never used."),
    "W011": (
        "ignored in an imported file",
        """An imported file contributes params, ops and op
sets only; its blocks, genotypes, checks and recipes are ignored.""",
    ),
}


def explain(code: str) -> str | None:
    entry = CODES.get(code.upper())
    if entry is None:
        return None
    title, body = entry
    return f"{code.upper()}: {title}\n\n{body.strip()}\n"
