"""lib._watchdog: a read still running at its deadline is cut off; one done in time is not."""

from __future__ import annotations

import socket
import time

from lib._watchdog import Watchdog


def test_a_socket_still_armed_at_its_deadline_is_shut_down() -> None:
    dog = Watchdog()
    ours, peer = socket.socketpair()
    with ours, peer:
        ticket = dog.arm(ours, 0.2)
        ours.settimeout(5)
        assert ours.recv(1) == b""  # the shutdown ends the read that would have waited 5 s
        assert dog.disarm(ticket) is True


def test_a_socket_disarmed_in_time_is_left_alone() -> None:
    dog = Watchdog()
    ours, peer = socket.socketpair()
    with ours, peer:
        assert dog.disarm(dog.arm(ours, 0.2)) is False
        time.sleep(0.4)
        peer.sendall(b"x")
        assert ours.recv(1) == b"x"


def test_a_nearer_deadline_wakes_the_watch() -> None:
    dog = Watchdog()
    far_ours, far_peer = socket.socketpair()
    near_ours, near_peer = socket.socketpair()
    with far_ours, far_peer, near_ours, near_peer:
        far = dog.arm(far_ours, 60)
        near = dog.arm(near_ours, 0.2)
        near_ours.settimeout(5)
        assert near_ours.recv(1) == b""
        assert dog.disarm(near) is True
        assert dog.disarm(far) is False
