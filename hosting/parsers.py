"""The /v1 API's JSON body parser (settings.REST_FRAMEWORK's DEFAULT_PARSER_CLASSES)."""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's parser, with a body nested past Python's recursion limit a parse error (a 400),
    not a RecursionError (a 500): DRF turns only ValueError into ParseError."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply") from exc
