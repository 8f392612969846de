"""Cutting a read off at the activation's deadline.

The timeouts of ``requests`` bound each connect and each socket read, not the
whole exchange: a server that trickles its body a byte at a time never trips
them. One daemon thread holds the sockets of the bodies being read and shuts
down any still open at its deadline, so the read in progress fails at once.
Arming and disarming cost a lock and a dict operation. The thread wakes only
for the nearest deadline, and an arm wakes it only when it would otherwise
sleep past the new deadline by more than ``SLACK``: the calls of one activation
share its deadline, so a warm container's calls wake it once, not every time.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time

# How late a socket may be shut after its deadline. The clocks behind two
# computations of the same deadline differ by microseconds; without this, half
# the calls would wake the thread to move its alarm by that much.
SLACK = 0.005


class Watchdog:
    def __init__(self) -> None:
        self._wakeup = threading.Condition()
        self._armed: dict[int, tuple[float, socket.socket]] = {}
        self._fired: set[int] = set()
        self._ids = itertools.count()
        self._sleeping_until = float("inf")
        self._thread: threading.Thread | None = None
        self.wakeups = 0  # how often the thread has woken: tests check it stays rare

    def arm(self, sock: socket.socket, seconds: float) -> int:
        """Shut ``sock`` down in ``seconds`` unless disarmed first; the ticket for disarm."""
        at = time.monotonic() + seconds
        with self._wakeup:
            ticket = next(self._ids)
            self._armed[ticket] = (at, sock)
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="lib._watchdog",
                                                daemon=True)
                self._thread.start()
            elif at + SLACK < self._sleeping_until:
                self._wakeup.notify()
        return ticket

    def disarm(self, ticket: int) -> bool:
        """Forget the socket; True when its deadline had already come and it was shut."""
        with self._wakeup:
            self._armed.pop(ticket, None)
            fired = ticket in self._fired
            self._fired.discard(ticket)
            return fired

    def _watch(self) -> None:
        with self._wakeup:
            while True:
                self.wakeups += 1
                now = time.monotonic()
                for ticket, (at, sock) in list(self._armed.items()):
                    if at <= now:
                        del self._armed[ticket]
                        self._fired.add(ticket)
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)
                # With nothing armed, keep an alarm still ahead: the next call of the same
                # activation arms the same deadline and need not wake the thread again.
                keep = self._sleeping_until if self._sleeping_until > now else float("inf")
                self._sleeping_until = min((at for at, _ in self._armed.values()), default=keep)
                timeout = self._sleeping_until - now
                self._wakeup.wait(None if timeout == float("inf") else timeout)


watchdog = Watchdog()
