"""Every diagnostic code as a typed constant: passes report `Code.UNKNOWN_NAME`, never a bare
"E010". Here, below language/ and check/, so that every layer can name them; the titles and
long explanations (`sedsl explain`) are in sedsl/check/codes.py."""

from __future__ import annotations

from enum import Enum


class Code(str, Enum):
    # str, so a code compares, hashes, sorts and serialises as its text ("E010")

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    SYNTAX = "E001"
    CANNOT_READ = "E002"
    TOO_DEEP = "E003"
    UNKNOWN_NAME = "E010"
    DUPLICATE = "E011"
    WRONG_VALUE = "E012"
    WRONG_ARITY = "E013"
    NOT_PYTHON_NAME = "E014"
    MISPLACED = "E015"
    BAD_KEYWORD = "E016"
    NOT_CONSTANT = "E017"
    NOT_A_SIZE = "E018"
    OUT_OF_RANGE = "E019"
    CANDIDATE_SIGNATURE = "E020"
    BROADCAST = "E021"
    CONCAT = "E022"
    SHAPE_MISMATCH = "E023"
    PRECONDITION = "E024"
    SIGNATURE_NO_CANDIDATE = "E025"
    SIZE_ARITHMETIC = "E026"
    CYCLE = "E030"
    UNUSED_NODE = "E031"
    UNREACHABLE_NODE = "E032"
    REQUIREMENT = "E040"
    BAD_POINTS = "E041"
    GENOTYPE_UNKNOWN_EDGE = "E050"
    GENOTYPE_UNKNOWN_CANDIDATE = "E051"
    GENOTYPE_MISSING_EDGE = "E052"
    GENOTYPE_TWICE = "E053"
    IMPORT_NOT_FOUND = "E060"
    IMPORT_CYCLE = "E061"
    INTERNAL_ERROR = "E900"
    UNPROVED = "W001"
    NO_POINTS = "W002"
    UNUSED_DECLARATION = "W010"
    IGNORED_IN_IMPORT = "W011"
