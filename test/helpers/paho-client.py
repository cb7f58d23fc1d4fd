#!/usr/bin/python3
"""A second MQTT client implementation for the tests: Debian's python3-paho-mqtt (1.6), driven by JSON.

Reads one JSON object from stdin: {"host", "port", "steps": [...]} and runs the steps in order, each
with a bounded wait, writing one JSON line per step to stdout as it completes ({"step": i, "op", ...};
{"error": ...} on failure, then exit 1). A "connect" step makes a new client (a reconnect is a new
connection, as with the mosquitto command-line clients). Steps:
  connect    {clientId, version: 5|4, cleanStart (v5) / clean (3.1.1), sessionExpiry?, keepalive?, will?}
             -> {sessionPresent, reasonCode}
  subscribe  {topic, qos} -> {granted}
  publish    {topic, payload, qos, retain?, properties?} -> {done: true} once acknowledged (PUBACK / PUBCOMP);
             properties (v5): {userProperties: [[name, value], ...], contentType, responseTopic,
             correlationData (text), messageExpiry, payloadFormat}
  expect     {count, timeoutMs} -> {messages: [{topic, payload, qos, retain, properties?}]} (the first
             `count` received; properties as above, those the message carried, v5 only)
  disconnect {reasonCode?, sessionExpiry?} -> {} (DISCONNECT, then the socket closes)
  drop       {} -> {} (the socket closes without DISCONNECT: the will fires)
  sleep      {ms}
"""
import json
import socket
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCodes

WAIT_S = 10.0  # a bound, not a pace: each wait returns as soon as its answer comes


class Conn:
    def __init__(self, host, port, step):
        self.version = step.get("version", 5)
        self.connected = threading.Event()
        self.closed = threading.Event()
        self.subscribed = threading.Event()
        self.connack = None
        self.granted = None
        self.messages = []
        self.lock = threading.Lock()
        protocol = mqtt.MQTTv5 if self.version == 5 else mqtt.MQTTv311
        if self.version == 5:
            self.client = mqtt.Client(client_id=step["clientId"], protocol=protocol)
        else:
            self.client = mqtt.Client(client_id=step["clientId"], protocol=protocol,
                                      clean_session=step.get("clean", True))
        self.client.on_connect = self.on_connect
        self.client.on_disconnect = lambda *args: self.closed.set()
        self.client.on_subscribe = self.on_subscribe
        self.client.on_message = self.on_message
        will = step.get("will")
        if will:
            self.client.will_set(will["topic"], will["payload"], will.get("qos", 0), will.get("retain", False))
        kwargs = {"keepalive": step.get("keepalive", 60)}
        if self.version == 5:
            kwargs["clean_start"] = step.get("cleanStart", True)
            if step.get("sessionExpiry") is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = step["sessionExpiry"]
                kwargs["properties"] = props
        self.client.connect(host, port, **kwargs)
        self.client.loop_start()
        if not step.get("noWait") and not self.connected.wait(WAIT_S):
            raise RuntimeError("no CONNACK")

    def on_connect(self, client, userdata, flags, rc, properties=None):
        code = rc.value if hasattr(rc, "value") else rc
        self.connack = {"sessionPresent": bool(flags.get("session present")), "reasonCode": code}
        self.connected.set()

    def on_subscribe(self, client, userdata, mid, granted, properties=None):
        self.granted = [g.value if hasattr(g, "value") else g for g in granted]
        self.subscribed.set()

    def on_message(self, client, userdata, msg):
        message = {"topic": msg.topic, "payload": msg.payload.decode("utf-8", "replace"),
                   "qos": msg.qos, "retain": bool(msg.retain)}
        if self.version == 5 and getattr(msg, "properties", None) is not None:
            message["properties"] = received_properties(msg.properties)
        with self.lock:
            self.messages.append(message)


# The PUBLISH properties the steps speak of, and paho's names for them.
PUBLISH_PROPERTIES = [("contentType", "ContentType"), ("responseTopic", "ResponseTopic"),
                      ("messageExpiry", "MessageExpiryInterval"), ("payloadFormat", "PayloadFormatIndicator")]


def publish_properties(spec):
    props = Properties(PacketTypes.PUBLISH)
    for name, paho_name in PUBLISH_PROPERTIES:
        if spec.get(name) is not None:
            setattr(props, paho_name, spec[name])
    if spec.get("correlationData") is not None:
        props.CorrelationData = spec["correlationData"].encode("utf-8")
    if spec.get("userProperties"):
        props.UserProperty = [tuple(pair) for pair in spec["userProperties"]]
    return props


def received_properties(props):
    out = {}
    for name, paho_name in PUBLISH_PROPERTIES:
        if hasattr(props, paho_name):
            out[name] = getattr(props, paho_name)
    if hasattr(props, "CorrelationData"):
        out["correlationData"] = props.CorrelationData.decode("utf-8", "replace")
    if hasattr(props, "UserProperty"):
        out["userProperties"] = [list(pair) for pair in props.UserProperty]
    return out


def run(step, conn, host, port):
    op = step["op"]
    if op == "connect":
        return Conn(host, port, step), None
    if op == "sleep":
        time.sleep(step["ms"] / 1000)
        return conn, {}
    if conn is None:
        raise RuntimeError(f"{op} before connect")
    if op == "subscribe":
        conn.subscribed.clear()
        conn.client.subscribe(step["topic"], step.get("qos", 0))
        if step.get("noWait"):
            return conn, {}
        if not conn.subscribed.wait(WAIT_S):
            raise RuntimeError("no SUBACK")
        return conn, {"granted": conn.granted}
    if op == "publish":
        kwargs = {}
        if step.get("properties") is not None:
            kwargs["properties"] = publish_properties(step["properties"])
        info = conn.client.publish(step["topic"], step["payload"], step.get("qos", 0), step.get("retain", False),
                                   **kwargs)
        deadline = time.time() + WAIT_S
        while not info.is_published():
            if time.time() > deadline:
                raise RuntimeError("publish not acknowledged")
            time.sleep(0.005)
        return conn, {"done": True}
    if op == "expect":
        deadline = time.time() + step.get("timeoutMs", 5000) / 1000
        while time.time() < deadline:
            with conn.lock:
                if len(conn.messages) >= step["count"]:
                    break
            time.sleep(0.01)
        with conn.lock:
            return conn, {"messages": list(conn.messages[: max(step["count"], len(conn.messages))])}
    if op == "disconnect":
        kwargs = {}
        if conn.version == 5 and step.get("reasonCode") is not None:
            kwargs["reasoncode"] = ReasonCodes(PacketTypes.DISCONNECT, identifier=step["reasonCode"])
        if conn.version == 5 and step.get("sessionExpiry") is not None:
            props = Properties(PacketTypes.DISCONNECT)
            props.SessionExpiryInterval = step["sessionExpiry"]
            kwargs["properties"] = props
        conn.client.disconnect(**kwargs)
        conn.closed.wait(WAIT_S)
        conn.client.loop_stop()
        return None, {}
    if op == "drop":
        conn.client.loop_stop()
        sock = conn.client.socket()
        if sock:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        return None, {}
    raise RuntimeError(f"unknown op {op}")


def main():
    spec = json.load(sys.stdin)
    conn = None
    for i, step in enumerate(spec["steps"]):
        try:
            conn, out = run(step, conn, spec["host"], spec["port"])
        except Exception as err:  # reported to the test, which fails with it
            print(json.dumps({"step": i, "op": step["op"], "error": str(err)}), flush=True)
            sys.exit(1)
        result = (conn.connack or {}) if step["op"] == "connect" else out
        print(json.dumps({"step": i, "op": step["op"], **result}), flush=True)
    if conn is not None:
        conn.client.loop_stop()


if __name__ == "__main__":
    main()
