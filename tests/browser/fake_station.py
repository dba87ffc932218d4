"""A small stand-in for the iaewatch server, faithful to the station page's contract.

It serves `app/station/` statically and speaks the REST and websocket contract the page uses
(`/api/auth/login`, `/api/alerts/{id}/ack`, `/api/devices`, `/api/beds/{bed}/trends`,
`/api/patients/{study_id}/report`, `/ws/station?token=&last_seq=`), with scripted beds that a
test drives from its own thread: raise and end alerts, push numerics, flip device states,
drop every websocket and refuse new ones for a while. It records what the page sent (login,
acknowledgements with their Authorization header, websocket query strings and messages).

Runs uvicorn on 127.0.0.1 port 0 in a thread; everything that touches its state runs on the
server's own event loop (`FakeStation.call`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

import uvicorn
from fake_beds import UNITS, USERS, Json, default_beds, iso, now
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.station import STATION_DIR

T = TypeVar("T")


class FakeStation:
    """The fake server's state and its controls (call them from the test thread)."""

    def __init__(self, heartbeat_s: float = 1.0) -> None:
        self.beds = default_beds()
        self.alerts: dict[str, Json] = {}
        self.history: list[Json] = []  # every alert transition, in seq order
        self.seq = 0
        self.tokens: dict[str, tuple[str, str]] = {}
        self.logins: list[str] = []
        self.ack_requests: list[tuple[str, str | None]] = []  # (alert id, Authorization)
        self.ws_connects: list[dict[str, str]] = []
        self.ws_received: list[Json] = []
        self.trend_requests: list[dict[str, str]] = []
        self.report_requests: list[tuple[str, str | None]] = []
        self.device_requests = 0
        self.accept_ws = True
        self.trends_shape = (
            "contract"  # or "series": {bed, since, until, series: {code: {unit, points}}}
        )
        self.heartbeat_s = heartbeat_s
        self.heartbeats_sent = 0
        self.sockets: set[WebSocket] = set()
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def app(self) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> Any:
            self.loop = asyncio.get_running_loop()
            yield

        return Starlette(
            routes=[
                Route("/api/auth/login", self._login, methods=["POST"]),
                Route("/api/alerts/{alert_id}/ack", self._ack_http, methods=["POST"]),
                Route("/api/alerts/history", self._history, methods=["GET"]),
                Route("/api/auth/refresh", self._refresh, methods=["POST"]),
                Route("/api/site", self._site, methods=["GET"]),
                Route("/api/devices", self._devices, methods=["GET"]),
                Route("/api/beds/{bed}/trends", self._trends, methods=["GET"]),
                Route("/api/patients/{study_id}/report", self._report, methods=["GET"]),
                WebSocketRoute("/ws/station", self._ws_station),
                Route("/", self._index, methods=["GET"]),
                Mount("/station", StaticFiles(directory=STATION_DIR, html=True)),
            ],
            lifespan=lifespan,
        )

    def start(self) -> None:
        config = uvicorn.Config(
            self.app(),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-station", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake station did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        with contextlib.suppress(Exception):
            self.call(self._close_all(1001))
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def call(self, aw: Awaitable[T], timeout: float = 5.0) -> T:
        """Run a coroutine on the server's loop from the test thread."""
        assert self.loop is not None

        async def wrap() -> T:
            return await aw

        return asyncio.run_coroutine_threadsafe(wrap(), self.loop).result(timeout)

    def run(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the server's loop (so it never races a handler)."""

        async def wrap() -> T:
            return fn()

        return self.call(wrap())

    # ---- controls (test thread) -----------------------------------------------------------

    def raise_alert(
        self,
        bed: str,
        category: str,
        priority: str,
        message: str,
        iae: bool = False,
        rule: str | None = None,
        onset: datetime | None = None,
        broadcast: bool = True,
    ) -> Json:
        """Start an alert episode; returns the committed transition.

        With `broadcast=False` the message is "lost" on its way to the stations (only the
        heartbeats' seq and a reconnect can reveal it).
        """

        async def go() -> Json:
            t = onset or now()
            alert = {
                "id": f"al-{next(self._ids)}",
                "seq": None,
                "bed": bed,
                "category": category,
                "iae": iae,
                "rule": rule or category,
                "priority": priority,
                "phase": "start",
                "state": "active",
                "onset": iso(t),
                "t": iso(t),
                "message": message,
                "evidence": {"note": "scripted by the browser test"},
                "acked_by": None,
                "acked_at": None,
                "ended_at": None,
            }
            return await self._commit(alert, broadcast=broadcast)

        return self.call(go())

    def end_alert(self, alert_id: str) -> Json:
        """The condition is over: resolved (and latched while unacknowledged)."""

        async def go() -> Json:
            alert = copy.deepcopy(self.alerts[alert_id])
            t = iso(now())
            alert.update(phase="end", state="resolved", t=t, ended_at=t)
            return await self._commit(alert)

        return self.call(go())

    def ack_alert(self, alert_id: str, user: str) -> Json:
        return self.call(self._ack(alert_id, user))

    def push_numerics(self, bed: str, values: dict[str, float], age_s: float = 0.0) -> None:
        async def go() -> None:
            t = iso(now() - timedelta(seconds=age_s))
            vals = {c: {"value": v, "unit": UNITS[c], "t": t} for c, v in values.items()}
            for c, v in vals.items():
                self.beds[bed]["latest"][c] = dict(v)
            await self._broadcast({"type": "numerics", "bed": bed, "t": iso(now()), "values": vals})

        self.call(go())

    def set_device_state(
        self, bed: str, device_id: str, state: str, error: str | None = None
    ) -> Json:
        async def go() -> Json:
            dev = next(d for d in self.beds[bed]["devices"] if d["device_id"] == device_id)
            if state == "connected" and dev["state"] != "connected":
                dev["reconnects"] += 1
            dev.update(state=state, since=iso(now()), last_error=error)
            await self._broadcast({"type": "device", "device": copy.deepcopy(dev)})
            return copy.deepcopy(dev)

        return self.call(go())

    def send_bed(self, bed: str) -> None:
        self.call(self._broadcast({"type": "bed", "bed": self._bed_json(bed)}))

    def drop_connections(self, accept_new: bool = False) -> None:
        """Close every station websocket (code 1012, service restart)."""
        self.accept_ws = accept_new
        self.call(self._close_all(1012))

    def allow_connections(self) -> None:
        self.accept_ws = True

    def revoke_tokens(self) -> None:
        self.run(self.tokens.clear)

    def connection_count(self) -> int:
        return self.run(lambda: len(self.sockets))

    # ---- JSON views -----------------------------------------------------------------------

    def _listed(self) -> list[Json]:
        return [
            copy.deepcopy(a)
            for a in self.alerts.values()
            if not (a["state"] == "resolved" and a["acked_by"] is not None)
        ]

    def _bed_json(self, bed_id: str) -> Json:
        bed = copy.deepcopy(self.beds[bed_id])
        t = now()
        for v in bed["latest"].values():
            if "age_s" in v:
                v["t"] = iso(t - timedelta(seconds=v.pop("age_s")))
        mine = [a for a in self._listed() if a["bed"] == bed_id]
        rank = {"high": 3, "medium": 2, "low": 1}
        top = max(mine, key=lambda a: rank[a["priority"]], default=None)
        bed["alert"] = {"count": len(mine), "highest_priority": top["priority"] if top else None}
        return bed

    def _snapshot(self) -> Json:
        return {
            "type": "snapshot",
            "seq": self.seq,
            "beds": [self._bed_json(b) for b in self.beds],
            "alerts": self._listed(),
        }

    # ---- server side ----------------------------------------------------------------------

    async def _commit(self, alert: Json, broadcast: bool = True) -> Json:
        self.seq += 1
        alert["seq"] = self.seq
        self.alerts[alert["id"]] = alert
        self.history.append(copy.deepcopy(alert))
        if broadcast:
            await self._broadcast({"type": "alert", "seq": self.seq, "alert": copy.deepcopy(alert)})
        return copy.deepcopy(alert)

    async def _ack(self, alert_id: str, user: str) -> Json:
        alert = copy.deepcopy(self.alerts[alert_id])
        if alert["acked_by"] is not None:
            return alert
        t = iso(now())
        state = "resolved" if alert["state"] == "resolved" else "acknowledged"
        alert.update(phase="ack", state=state, t=t, acked_by=user, acked_at=t)
        return await self._commit(alert)

    async def _broadcast(self, msg: Json) -> None:
        for ws in list(self.sockets):
            try:
                await ws.send_json(msg)
            except Exception:
                self.sockets.discard(ws)

    async def _close_all(self, code: int) -> None:
        for ws in list(self.sockets):
            self.sockets.discard(ws)
            with contextlib.suppress(Exception):
                await ws.close(code=code)

    def _user(self, request: Request) -> tuple[str, str] | None:
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.tokens.get(token)

    async def _index(self, request: Request) -> Response:
        return FileResponse(STATION_DIR / "index.html")

    async def _login(self, request: Request) -> Response:
        body = await request.json()
        user, password = body.get("username"), body.get("password")
        self.logins.append(str(user))
        if user not in USERS or USERS[user][0] != password:
            return JSONResponse({"detail": "bad credentials"}, status_code=401)
        token = f"tok-{user}-{next(self._tokens)}"
        role = USERS[user][1]
        self.tokens[token] = (user, role)
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "username": user,
                "role": role,
                "expires_at": iso(now() + timedelta(hours=12)),
            }
        )

    async def _history(self, request: Request) -> Response:
        """Every alert's current state (the real API's `window=0`; the fake keeps one window)."""
        if self._user(request) is None:
            return JSONResponse({"detail": "not authenticated"}, status_code=401)
        bed = request.query_params.get("bed")
        found = [copy.deepcopy(a) for a in self.alerts.values() if bed in (None, a["bed"])]
        return JSONResponse({"bed": bed, "window": {"index": 0}, "alerts": found})

    async def _refresh(self, request: Request) -> Response:
        who = self._user(request)
        if who is None:
            return JSONResponse({"detail": "token expired"}, status_code=401)
        token = f"tok-{who[0]}-{next(self._tokens)}"
        self.tokens[token] = who
        return JSONResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "username": who[0],
                "role": who[1],
                "expires_at": iso(now() + timedelta(hours=12)),
            }
        )

    async def _site(self, request: Request) -> Response:
        return JSONResponse({"name": "Fake ICU", "timezone": "UTC"})

    async def _ack_http(self, request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        self.ack_requests.append((alert_id, request.headers.get("authorization")))
        who = self._user(request)
        if who is None:
            return JSONResponse({"detail": "not authenticated"}, status_code=401)
        if alert_id not in self.alerts:
            return JSONResponse({"detail": "no such alert"}, status_code=404)
        return JSONResponse(await self._ack(alert_id, who[0]))

    async def _devices(self, request: Request) -> Response:
        self.device_requests += 1
        who = self._user(request)
        if who is None:
            return JSONResponse({"detail": "not authenticated"}, status_code=401)
        if who[1] not in ("engineer", "admin"):
            return JSONResponse({"detail": "engineers only"}, status_code=403)
        return JSONResponse([copy.deepcopy(d) for b in self.beds.values() for d in b["devices"]])

    async def _trends(self, request: Request) -> Response:
        self.trend_requests.append({"bed": request.path_params["bed"], **request.query_params})
        if self._user(request) is None:
            return JSONResponse({"detail": "not authenticated"}, status_code=401)
        bed = self.beds.get(request.path_params["bed"])
        if bed is None:
            return JSONResponse({"detail": "no such bed"}, status_code=404)
        hours = float(request.query_params.get("hours", "6"))
        points = int(request.query_params.get("points", "300"))
        codes = request.query_params.get("codes", "").split(",")
        t1 = now()
        out: dict[str, list[list[Any]]] = {}
        for code in codes:
            last = bed["latest"].get(code)
            if last is None:
                continue
            base = float(last["value"])
            series = []
            for i in range(points):
                t = t1 - timedelta(hours=hours) * (1 - i / (points - 1))
                wobble = 0.04 * base * math.sin(i / 17) + 0.01 * base * math.sin(i / 3)
                series.append([iso(t), round(base + wobble, 2)])
            out[code] = series
        if self.trends_shape == "series":
            return JSONResponse(
                {
                    "bed": bed["bed"],
                    "since": iso(t1 - timedelta(hours=hours)),
                    "until": iso(t1),
                    "series": {c: {"unit": UNITS.get(c), "points": p} for c, p in out.items()},
                }
            )
        return JSONResponse(out)

    async def _report(self, request: Request) -> Response:
        study_id = request.path_params["study_id"]
        self.report_requests.append((study_id, request.headers.get("authorization")))
        if self._user(request) is None:
            return JSONResponse({"detail": "not authenticated"}, status_code=401)
        return HTMLResponse(
            f"<!doctype html><title>Report {study_id}</title><h1>Report {study_id}</h1>"
        )

    async def _ws_station(self, ws: WebSocket) -> None:
        params = dict(ws.query_params)
        self.ws_connects.append(params)
        await ws.accept()
        if not self.accept_ws:
            await ws.close(code=1013)  # try again later
            return
        who = self.tokens.get(params.get("token", ""))
        if who is None:
            await ws.close(code=4401)
            return
        self.sockets.add(ws)
        beat: asyncio.Task[None] | None = None
        try:
            await ws.send_json(self._snapshot())
            last = int(params.get("last_seq") or 0)
            for a in self.history:
                if a["seq"] > last:
                    await ws.send_json(
                        {"type": "alert", "seq": a["seq"], "alert": copy.deepcopy(a)}
                    )
            beat = asyncio.create_task(self._heartbeats(ws))
            while True:
                msg = await ws.receive_json()
                self.ws_received.append(msg)
                if msg.get("type") == "ack" and msg.get("alert_id") in self.alerts:
                    await self._ack(msg["alert_id"], who[0])
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self.sockets.discard(ws)
            if beat is not None:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat

    async def _heartbeats(self, ws: WebSocket) -> None:
        while ws in self.sockets:
            await asyncio.sleep(self.heartbeat_s)
            if ws not in self.sockets:
                return
            try:
                await ws.send_json({"type": "heartbeat", "t": iso(now()), "seq": self.seq})
            except Exception:
                return
            self.heartbeats_sent += 1


@contextlib.contextmanager
def running_fake(heartbeat_s: float = 1.0) -> Iterator[FakeStation]:
    fake = FakeStation(heartbeat_s=heartbeat_s)
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
