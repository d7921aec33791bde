"""The browser's live view of a prediction: the same event log as SSE, over a websocket.

Authenticated by the Django session on connect; only members of the prediction's account
may watch it (anyone else is refused during the handshake, revealing nothing).
"""

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.services import personal_account_for
from hosting.problems import NotFound
from inference import events, selectors


@database_sync_to_async
def _watchable(user, prediction_id: str) -> bool:
    """The same rule as the dashboard's pages: predictions of the account the browser acts as."""
    try:
        selectors.prediction_get(account=personal_account_for(user=user), prediction_id=prediction_id)
    except NotFound:
        return False
    return True


def browser_event(entry_id: str, fields: dict[str, str]) -> dict:
    """`start` tells the page a worker picked the prediction up (its status is then processing),
    and whether its model boots first; `running`, that such a boot is over. `id` is the entry's
    id, whose first part is the server's time of it in milliseconds."""
    kind, data = fields["type"], fields["data"]
    return {"event": kind, "id": entry_id, "data": data if kind == "logs" else json.loads(data)}


class PredictionConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        self.prediction_id = self.scope["url_route"]["kwargs"]["prediction_id"]
        if user is None or not user.is_authenticated or not await _watchable(user, self.prediction_id):
            await self.close()
            return
        await self.accept()
        self._relay = asyncio.create_task(self._relay_events())

    async def _relay_events(self) -> None:
        async for entry in events.follow(self.prediction_id):
            if entry is not None:
                await self.send_json(browser_event(*entry))
        await self.close()

    async def disconnect(self, code: int) -> None:
        relay = getattr(self, "_relay", None)
        if relay is not None:
            relay.cancel()
