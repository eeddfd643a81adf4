"""Who is watching (sans-IO): viewer slots per camera and protocol, bounded per camera and
in total. The clock is injected; nothing here awaits.

Three ways a viewer holds a slot:
- a request (progressive fMP4, a file being played) holds it until the request ends;
- a session (WHEP viewer, WHIP talker) holds it from the offer until its Location is
  deleted or the session is found gone;
- an HLS player holds it while it keeps asking for playlists: a player is one viewer
  key (its token, or its address without one) per camera, seen within `hls_window`.
  Players poll playlists every part (LL-HLS) or target duration, so a player that stops
  is forgotten `hls_window` seconds later. Players behind one NAT without tokens count
  as one: the limit is then per address, which is the best HTTP can tell.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# Expired HLS players are swept at most this often: a sweep walks every player.
SWEEP_INTERVAL = 1.0


class OverLimit(Exception):
    """No room for another viewer; the message names the limit."""


@dataclass(eq=False, slots=True)
class Slot:
    camera: str
    protocol: str
    location: str | None = None  # a session's resource path once its 201 went out
    held: bool = True


class ViewerLedger:
    def __init__(self, per_camera: int, total: int, hls_window: float, clock: Callable[[], float] = time.monotonic):
        self.per_camera = per_camera
        self.total = total
        self.hls_window = hls_window
        self._clock = clock
        self._by_camera: Counter[str] = Counter()
        self._by_protocol: Counter[tuple[str, str]] = Counter()
        self._count = 0
        self._sessions: dict[str, Slot] = {}
        self._players: dict[tuple[str, str], float] = {}
        self._next_sweep = 0.0
        # In a cluster: the camera's viewers on the other nodes (gateway/cluster/node.py), so
        # `per_camera` holds for the cluster; `total` stays per node (one box's capacity).
        self.elsewhere: Callable[[str], int] = lambda camera: 0
        self.admitted: Counter[str] = Counter()  # by protocol, cumulative
        self.refused: Counter[str] = Counter()  # by protocol, cumulative

    # -- counting ----------------------------------------------------------------------
    @property
    def count(self) -> int:
        self._sweep()
        return self._count

    def viewers(self) -> dict[tuple[str, str], int]:
        """Current viewers by (camera, protocol)."""
        self._sweep()
        return {key: n for key, n in self._by_protocol.items() if n}

    def _check(self, camera: str, protocol: str) -> None:
        self._sweep()
        if self._count >= self.total:
            self.refused[protocol] += 1
            raise OverLimit(f"the gateway serves {self.total} viewers already")
        if self._by_camera[camera] + self.elsewhere(camera) >= self.per_camera:
            self.refused[protocol] += 1
            raise OverLimit(f"this camera has {self.per_camera} viewers already")

    def _add(self, camera: str, protocol: str, n: int) -> None:
        self._count += n
        self._by_camera[camera] += n
        self._by_protocol[camera, protocol] += n
        if not self._by_camera[camera]:
            del self._by_camera[camera]  # camera ids come from URLs: keep no empty keys
        if not self._by_protocol[camera, protocol]:
            del self._by_protocol[camera, protocol]

    # -- requests and sessions -----------------------------------------------------------
    def take(self, camera: str, protocol: str) -> Slot:
        """A slot for one viewer, or OverLimit."""
        self._check(camera, protocol)
        self._add(camera, protocol, 1)
        self.admitted[protocol] += 1
        return Slot(camera, protocol)

    def give_back(self, slot: Slot) -> None:
        """Idempotent: a session can end by DELETE and be found gone too."""
        if not slot.held:
            return
        slot.held = False
        if slot.location is not None:
            self._sessions.pop(slot.location, None)
        self._add(slot.camera, slot.protocol, -1)

    def bind(self, slot: Slot, location: str) -> None:
        """The request's slot now belongs to the session at `location`."""
        slot.location = location
        self._sessions[location] = slot

    def end_session(self, location: str) -> None:
        slot = self._sessions.get(location)
        if slot is not None:
            self.give_back(slot)

    def sessions(self) -> Iterator[tuple[str, Slot]]:
        return iter(list(self._sessions.items()))

    # -- HLS players ---------------------------------------------------------------------
    def player_seen(self, camera: str, key: str) -> bool:
        """A playlist request; True when it is a new player (OverLimit if there is no room)."""
        now = self._clock()
        player = (camera, key)
        if player in self._players:
            self._players[player] = now
            return False
        self._check(camera, "hls")
        self._players[player] = now
        self._add(camera, "hls", 1)
        self.admitted["hls"] += 1
        return True

    def refresh_player(self, camera: str, key: str) -> bool:
        """A playlist request of a player already counted: seen now (True). False, and
        nothing changed, for one the ledger does not know: `player_seen` decides on it."""
        player = (camera, key)
        if player not in self._players:
            return False
        self._players[player] = self._clock()
        return True

    def forget_player(self, camera: str, key: str) -> None:
        if self._players.pop((camera, key), None) is not None:
            self._add(camera, "hls", -1)

    def _sweep(self) -> None:
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_INTERVAL
        horizon = now - self.hls_window
        for player, seen in list(self._players.items()):
            if seen < horizon:
                del self._players[player]
                self._add(player[0], "hls", -1)
