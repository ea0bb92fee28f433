"""The faster binary check of outgoing Socket.IO messages answers exactly as python-socketio's own."""

from __future__ import annotations

import random

from nicegui import core
from socketio.packet import BINARY_EVENT, EVENT, Packet

from app.ui import socket_speed
from app.ui.socket_speed import FastPacket

LEAVES = ["text", "", 0, 7, 1.5, True, None, b"raw", bytearray(b"x"), (b"in a tuple",), {b"key"}]


def _value(rng: random.Random, depth: int) -> object:
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(LEAVES)
    if rng.random() < 0.5:
        return [_value(rng, depth - 1) for _ in range(rng.randint(0, 4))]
    return {f"k{i}": _value(rng, depth - 1) for i in range(rng.randint(0, 4))}


def test_same_answer_as_upstream_on_random_messages():
    rng = random.Random(20261202)
    answers = set()
    for _ in range(3000):
        data = ["update", _value(rng, 5)]
        expected = Packet.data_is_binary(data)
        assert FastPacket.data_is_binary(data) is expected, data
        answers.add(expected)
    assert answers == {True, False}  # both kinds were checked


def test_bytes_are_found_deep_and_other_containers_are_not_looked_into():
    assert FastPacket.data_is_binary(["download", {"src": {"parts": [1, "a", b"\x00"]}}])
    assert FastPacket.data_is_binary([bytearray(b"x")])
    assert not FastPacket.data_is_binary(["update", {"a": (b"tuple",), "b": {b"set"}}])  # as upstream
    assert not FastPacket.data_is_binary(["update", {"1": {"tag": "div", "props": {}, "slots": {}}}])
    # what orjson cannot encode without help is walked: the same answers as upstream
    for data in (["x", {1: "int key"}], ["x", 2**70], ["x", {"a": {1, 2}}], ["x", {1: [b"b"]}]):
        assert FastPacket.data_is_binary(data) is Packet.data_is_binary(data), data


def test_packets_are_encoded_as_upstream():
    for data in (["update", {"1": {"tag": "q-btn", "text": "Submit"}}], ["download", {"src": b"\x00\x01"}]):
        assert FastPacket(EVENT, data=data).encode() == Packet(EVENT, data=data).encode()
    assert FastPacket(EVENT, data=["x", b"1"]).packet_type == BINARY_EVENT


def test_install_makes_nicegui_send_with_it():
    socket_speed.install()
    assert core.sio.packet_class is FastPacket
