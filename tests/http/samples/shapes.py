"""A model named like one in `colours`, to check that OpenAPI keeps both apart."""

from enum import StrEnum


class Color(StrEnum):
    square = "square"
    circle = "circle"
