from enum import StrEnum


class Color(StrEnum):
    red = "red"
    blue = "blue"
