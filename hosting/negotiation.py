"""Content negotiation of the /v1 endpoints DRF serves (settings.REST_FRAMEWORK)."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JsonWhateverTheAccept(DefaultContentNegotiation):
    """DRF's negotiation, but an Accept header no renderer satisfies gets the endpoint's first
    renderer (JSON) rather than a 406 that the OpenAPI document would have to list for every
    operation: the async handlers never read Accept either, and RFC 9110 §12.5.1 lets a server
    disregard it. `hearth push` sends `Accept: application/x-ndjson` to a view that streams it."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            return renderers[0], renderers[0].media_type
