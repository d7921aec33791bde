"""GET /models and GET /models/{model}: the models the token may run that declare themselves
for these endpoints (`Model.openai_api`), public ones and the caller's own, and the caller's
deployments of such models (as `deployments/owner/name`)."""

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse

from hosting import ratelimit
from inference.models import Model, OpenAIApi
from inference.openai_compat import replies, selectors
from inference.openai_compat.endpoints import OpenAIEndpoint
from inference.openai_compat.errors import OpenAIError, model_not_found
from inference.openai_compat.targets import target_for


class ModelList(OpenAIEndpoint):
    async def get(self, request: HttpRequest) -> JsonResponse:
        await ratelimit.acheck(ratelimit.API, self.token_id)
        listed = await sync_to_async(selectors.openai_model_list)(account=self.account)
        return JsonResponse({"object": "list", "data": [replies.model_json(model, name) for name, model in listed]})


class ModelDetail(OpenAIEndpoint):
    async def get(self, request: HttpRequest, name: str) -> JsonResponse:
        await ratelimit.acheck(ratelimit.API, self.token_id)

        def found() -> Model:
            for api in (OpenAIApi.CHAT, OpenAIApi.EMBEDDINGS):
                try:
                    return target_for(account=self.account, name=name, api=api).model
                except OpenAIError:
                    continue
            raise model_not_found(name)

        return JsonResponse(replies.model_json(await sync_to_async(found)(), name))
