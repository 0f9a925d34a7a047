#!/usr/bin/env python3
"""Headless Home Assistant for checking wardwatch's MQTT discovery against the real thing.

Run it with the Python of .venv-ha (scripts/setup.sh installs Home Assistant 2024.3.3 there):

    .venv-ha/bin/python tools/homeassistant/ha_check.py --config-dir DIR \\
        --ha-port 18123 --broker-port 1883 [--wait-state binary_sensor.x=on ...]

1. When no Home Assistant started by this script runs for DIR: writes DIR/configuration.yaml
   (from configuration.yaml beside this script, http on 127.0.0.1:--ha-port) and the MQTT
   config entry (broker, discovery on) into DIR/.storage/core.config_entries, then starts
   `hass -c DIR --skip-pip` (pid in DIR/hass.pid, output in DIR/hass.out). --no-start: fail
   instead of starting one.
2. Onboards it over REST on the first start (user and password in DIR/harness-auth.json) and
   keeps a long-lived token in DIR/harness-token.
3. Waits until its MQTT client is really connected to the broker: calls the mqtt.publish
   service with a nonce and waits to receive it on the broker.
4. Waits --settle seconds, then until every --wait-state ENTITY=STATE holds and every
   --wait-absent ENTITY is gone (exit code 3 when --timeout passes first).
5. Prints JSON on stdout: the mqtt entities (state, attributes, registry entry, device,
   and for image entities the download of their entity_picture), the mqtt devices, and
   the log records of DIR/home-assistant.log that mention mqtt, templates, discovery or
   invalid config (WARNING and above, plus INFO of homeassistant.components.mqtt.mixins).
6. --stop: stops that Home Assistant afterwards (alone, with --stop-only).

Progress goes to stderr. Everything lives in DIR, so a test uses a fresh temp dir each time.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid

import aiohttp
import paho.mqtt.client as paho

HERE = os.path.dirname(os.path.abspath(__file__))


def log(*a):
    print("[ha_check]", *a, file=sys.stderr, flush=True)


class Paths:
    def __init__(self, config_dir: str):
        self.config = os.path.abspath(config_dir)
        self.storage = os.path.join(self.config, ".storage")
        self.pid = os.path.join(self.config, "hass.pid")
        self.out = os.path.join(self.config, "hass.out")
        self.token = os.path.join(self.config, "harness-token")
        self.auth = os.path.join(self.config, "harness-auth.json")
        self.log = os.path.join(self.config, "home-assistant.log")


# ---------------------------------------------------------------- config
def write_config(p: Paths, ha_port: int, broker_host: str, broker_port: int) -> None:
    os.makedirs(p.storage, exist_ok=True)
    with open(os.path.join(HERE, "configuration.yaml")) as f:
        yaml = f.read().replace("@HA_PORT@", str(ha_port))
    with open(os.path.join(p.config, "configuration.yaml"), "w") as f:
        f.write(yaml)
    path = os.path.join(p.storage, "core.config_entries")
    if os.path.exists(path):
        with open(path) as f:
            doc = json.load(f)
    else:
        doc = {"version": 1, "minor_version": 1, "key": "core.config_entries", "data": {"entries": []}}
    entries = doc["data"]["entries"]
    mqtt = [e for e in entries if e["domain"] == "mqtt"]
    if mqtt:
        e = mqtt[0]
    else:
        e = {
            "entry_id": uuid.uuid4().hex,
            "version": 1,
            "minor_version": 1,
            "domain": "mqtt",
            "title": broker_host,
            "data": {},
            "options": {},
            "pref_disable_new_entities": False,
            "pref_disable_polling": False,
            "source": "user",
            "unique_id": None,
            "disabled_by": None,
        }
        entries.append(e)
    e["data"].update({"broker": broker_host, "port": broker_port, "discovery": True})
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
    os.replace(tmp, path)
    log(f"mqtt config entry {e['entry_id']} -> {broker_host}:{broker_port}")


# ---------------------------------------------------------------- process
def alive(pid: int) -> bool:
    """True while pid runs (a zombie left for a non-reaping init counts as gone)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def our_pid(p: Paths):
    try:
        with open(p.pid) as f:
            pid = int(f.read().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def start_ha(p: Paths) -> int:
    hass = os.path.join(os.path.dirname(sys.executable), "hass")
    if not os.path.exists(hass):
        raise SystemExit(f"{hass} is missing: run this with .venv-ha/bin/python after `make setup`")
    cmd = ["nice", "-n", "10", hass, "-c", p.config, "--skip-pip"]
    with open(p.out, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    with open(p.pid, "w") as f:
        f.write(str(proc.pid))
    log(f"started Home Assistant pid {proc.pid}: {' '.join(cmd)}")
    return proc.pid


def stop_ha(p: Paths, timeout: float = 60) -> None:
    pid = our_pid(p)
    if not pid:
        log("no Home Assistant started for this config dir is running")
        return
    log(f"stopping Home Assistant pid {pid}")
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:  # reap it when it is our own child
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        except ChildProcessError:
            pass
        if not alive(pid):
            break
        time.sleep(0.2)
    else:
        log("Home Assistant did not exit after SIGTERM: SIGKILL")
        os.kill(pid, signal.SIGKILL)
    try:
        os.remove(p.pid)
    except OSError:
        pass


# ---------------------------------------------------------------- HA API
class HA:
    def __init__(self, base: str, session: aiohttp.ClientSession, p: Paths):
        self.base = base
        self.s = session
        self.p = p
        self.token = None
        self.client_id = base + "/"

    async def alive(self) -> bool:
        try:
            async with self.s.get(self.base + "/api/onboarding", timeout=aiohttp.ClientTimeout(total=5)) as r:
                return r.status in (200, 401, 404)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return False

    def hdr(self):
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path):
        async with self.s.get(self.base + path, headers=self.hdr()) as r:
            r.raise_for_status()
            return await r.json()

    async def post(self, path, data):
        async with self.s.post(self.base + path, headers=self.hdr(), json=data) as r:
            txt = await r.text()
            if r.status >= 400:
                raise RuntimeError(f"POST {path} -> {r.status}: {txt}")
            return json.loads(txt) if txt else None

    async def exchange_code(self, code):
        async with self.s.post(
            self.base + "/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": self.client_id},
        ) as r:
            r.raise_for_status()
            return (await r.json())["access_token"]

    async def ensure_token(self, deadline):
        if os.path.exists(self.p.token):
            with open(self.p.token) as f:
                self.token = f.read().strip()
            async with self.s.get(self.base + "/api/", headers=self.hdr()) as r:
                if r.status == 200:
                    return
            log("stored token rejected, authenticating again")
        while True:
            async with self.s.get(self.base + "/api/onboarding") as r:
                steps = await r.json() if r.status == 200 else None
            if steps is not None or os.path.exists(self.p.auth):
                break
            if time.time() > deadline:
                raise SystemExit(f"onboarding API never appeared and no {self.p.auth}: cannot authenticate")
            await asyncio.sleep(0.5)  # onboarding not loaded yet
        user_done = any(s["step"] == "user" and s["done"] for s in steps) if steps else True
        if not user_done:
            creds = {"username": "ww", "password": secrets.token_urlsafe(12)}
            async with self.s.post(
                self.base + "/api/onboarding/users",
                json={"client_id": self.client_id, "name": "wardwatch", "language": "en", **creds},
            ) as r:
                if r.status != 200:
                    raise RuntimeError(f"onboarding/users -> {r.status}: {await r.text()}")
                code = (await r.json())["auth_code"]
            with open(self.p.auth, "w") as f:
                json.dump(creds, f)
            self.token = await self.exchange_code(code)
            # core_config is left out on purpose: it creates flows for met, radio_browser,
            # google_translate and shopping_list, whose requirements are not installed.
            for path, body in (
                ("/api/onboarding/analytics", {}),
                ("/api/onboarding/integration", {"client_id": self.client_id, "redirect_uri": self.client_id}),
            ):
                try:
                    await self.post(path, body)
                except Exception as ex:  # noqa: BLE001
                    log(f"onboarding step {path}: {ex}")
            log("onboarded")
        else:
            with open(self.p.auth) as f:
                creds = json.load(f)
            async with self.s.post(
                self.base + "/auth/login_flow",
                json={"client_id": self.client_id, "handler": ["homeassistant", None], "redirect_uri": self.client_id},
            ) as r:
                flow = await r.json()
            async with self.s.post(
                self.base + f"/auth/login_flow/{flow['flow_id']}", json={**creds, "client_id": self.client_id}
            ) as r:
                res = await r.json()
            self.token = await self.exchange_code(res["result"])
        (self.token,) = await self.ws(
            [{"type": "auth/long_lived_access_token", "client_name": f"ha_check-{time.time_ns()}", "lifespan": 3650}]
        )
        with open(self.p.token, "w") as f:
            f.write(self.token)

    async def ws(self, cmds):
        out = []
        async with self.s.ws_connect(self.base + "/api/websocket", max_msg_size=0) as w:
            await w.receive_json()
            await w.send_json({"type": "auth", "access_token": self.token})
            msg = await w.receive_json()
            if msg["type"] != "auth_ok":
                raise RuntimeError(f"websocket auth failed: {msg}")
            for i, c in enumerate(cmds, 1):
                await w.send_json({"id": i, **c})
                while True:
                    msg = await w.receive_json()
                    if msg.get("id") == i and msg["type"] == "result":
                        break
                if not msg["success"]:
                    raise RuntimeError(f"websocket {c['type']} failed: {msg.get('error')}")
                out.append(msg["result"])
        return out


# ---------------------------------------------------------------- mqtt probe
def probe_mqtt(host, port, ha: HA, loop, deadline) -> bool:
    """True once a message published by HA's mqtt.publish service arrives at the broker."""
    nonce = secrets.token_hex(6)
    topic = f"wardwatch_harness/probe/{nonce}"
    got = []
    c = paho.Client(client_id=f"ha-check-{nonce}")
    c.on_message = lambda cl, ud, m: got.append(m.payload)
    c.connect(host, port)
    c.subscribe(topic, qos=1)
    c.loop_start()
    try:
        while time.time() < deadline:
            fut = asyncio.run_coroutine_threadsafe(
                ha.post("/api/services/mqtt/publish", {"topic": topic, "payload": nonce}), loop
            )
            try:
                fut.result(10)
            except Exception as ex:  # noqa: BLE001
                log(f"mqtt.publish not available yet: {ex}")
            t1 = time.time() + 2
            while time.time() < t1 and not got:
                time.sleep(0.05)
            if got:
                return True
        return False
    finally:
        c.loop_stop()
        c.disconnect()


# ---------------------------------------------------------------- log scan
LINE_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ (\w+) \((.*?)\) \[([^\]]+)\] (.*)$")
KEYWORDS = re.compile(r"mqtt|template|invalid config|discovery", re.I)


def scan_log(path: str):
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    records, cur = [], None
    for ln in lines:
        m = LINE_RE.match(ln)
        if m:
            cur = {"level": m.group(1), "logger": m.group(3), "lines": [ln]}
            records.append(cur)
        elif cur is not None:
            cur["lines"].append(ln)
    out = []
    for r in records:
        # INFO of mqtt.mixins carries hints such as "MQTT device information always needs to include a name"
        if r["level"] not in ("WARNING", "ERROR", "CRITICAL") and not (
            r["level"] == "INFO" and r["logger"] == "homeassistant.components.mqtt.mixins"
        ):
            continue
        text = "\n".join(r["lines"])
        if KEYWORDS.search(text):
            out.append({"level": r["level"], "logger": r["logger"], "text": text[:4000]})
    return out


# ---------------------------------------------------------------- main
async def amain(a) -> int:
    p = Paths(a.config_dir)
    base = f"http://127.0.0.1:{a.ha_port}"
    t0 = time.time()
    deadline = t0 + a.timeout
    async with aiohttp.ClientSession() as s:
        ha = HA(base, s, p)
        if our_pid(p) is None:
            if a.no_start:
                raise SystemExit(f"no Home Assistant runs for {p.config} and --no-start was given")
            if await ha.alive():
                raise SystemExit(f"port {a.ha_port} already answers HTTP but not from a Home Assistant of {p.config}")
            write_config(p, a.ha_port, a.broker_host, a.broker_port)
            start_ha(p)
            while not await ha.alive():
                if time.time() > deadline:
                    raise SystemExit(f"timeout waiting for Home Assistant's http on {base}; see {p.out}")
                if our_pid(p) is None:
                    with open(p.out, errors="replace") as f:
                        tail = f.read()[-3000:]
                    raise SystemExit(f"Home Assistant exited during start-up; {p.out} ends with:\n{tail}")
                await asyncio.sleep(0.3)
            log(f"http up after {time.time() - t0:.1f}s")
        await ha.ensure_token(deadline)
        while True:
            cfg = await ha.get("/api/config")
            if cfg.get("state") == "RUNNING":
                break
            if time.time() > deadline:
                raise SystemExit(f"timeout waiting for Home Assistant to run (state {cfg.get('state')})")
            await asyncio.sleep(0.3)
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(None, probe_mqtt, a.broker_host, a.broker_port, ha, loop, deadline)
        if not ok:
            raise SystemExit("timeout: Home Assistant's MQTT client never published to the broker")
        log(f"Home Assistant {cfg.get('version')} running, MQTT connected, after {time.time() - t0:.1f}s")
        await asyncio.sleep(a.settle)
        waits = dict(w.split("=", 1) for w in a.wait_state)
        unmet = {}
        while waits or a.wait_absent:
            states = {st["entity_id"]: st["state"] for st in await ha.get("/api/states")}
            unmet = {k: v for k, v in waits.items() if states.get(k) != v}
            unmet.update({k: "<absent>" for k in a.wait_absent if k in states})
            if not unmet:
                break
            if time.time() > deadline:
                log(f"timeout waiting for {unmet} (have { {k: states.get(k) for k in unmet} })")
                break
            await asyncio.sleep(0.5)
        log(f"states waited for after {time.time() - t0:.1f}s")

        entries = await ha.get("/api/config/config_entries/entry?domain=mqtt")
        entry_ids = {e["entry_id"] for e in entries}
        source, ent_reg, dev_reg = await ha.ws(
            [
                {"type": "entity/source"},
                {"type": "config/entity_registry/list"},
                {"type": "config/device_registry/list"},
            ]
        )
        states = {st["entity_id"]: st for st in await ha.get("/api/states")}
        reg_by_id = {e["entity_id"]: e for e in ent_reg}
        mqtt_ids = {eid for eid, src in source.items() if src.get("domain") == "mqtt"}
        mqtt_ids |= {e["entity_id"] for e in ent_reg if e.get("platform") == "mqtt"}
        devices = {d["id"]: d for d in dev_reg if set(d.get("config_entries", [])) & entry_ids}
        entities = []
        for eid in sorted(mqtt_ids):
            st = states.get(eid)
            reg = reg_by_id.get(eid, {})
            dev = devices.get(reg.get("device_id"))
            ent = {
                "entity_id": eid,
                "state": st["state"] if st else None,
                "attributes": st["attributes"] if st else None,
                "unique_id": reg.get("unique_id"),
                "original_name": reg.get("original_name"),
                "entity_category": reg.get("entity_category"),
                "disabled_by": reg.get("disabled_by"),
                "device": dev["name"] if dev else None,
            }
            pic = (ent["attributes"] or {}).get("entity_picture")
            if eid.startswith("image.") and pic:
                async with s.get(base + pic) as r:
                    body = await r.read()
                    ent["image_fetch"] = {
                        "status": r.status,
                        "content_type": r.headers.get("Content-Type"),
                        "bytes": len(body),
                        "starts_with_ffd8": body[:2] == b"\xff\xd8",
                        "sha256": hashlib.sha256(body).hexdigest(),
                    }
            entities.append(ent)
        dev_out = [
            {k: d.get(k) for k in ("id", "name", "identifiers", "manufacturer", "model", "sw_version",
                                   "configuration_url", "suggested_area")}
            for d in devices.values()
        ]
        print(json.dumps({
            "ha_version": cfg.get("version"),
            "broker": f"{a.broker_host}:{a.broker_port}",
            "mqtt_entry_state": [e.get("state") for e in entries],
            "entities": entities,
            "devices": dev_out,
            "wait_unmet": unmet,
            "log": scan_log(p.log),
        }, indent=2, ensure_ascii=False))
    return 3 if unmet else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config-dir", required=True, help="Home Assistant's config dir (created when missing)")
    ap.add_argument("--ha-port", type=int, default=8123, help="Home Assistant's http port on 127.0.0.1")
    ap.add_argument("--broker-port", type=int, default=1883)
    ap.add_argument("--broker-host", default="127.0.0.1")
    ap.add_argument("--timeout", type=float, default=180, help="seconds for everything, start-up included")
    ap.add_argument("--settle", type=float, default=0, help="seconds to wait once MQTT is connected")
    ap.add_argument("--wait-state", action="append", default=[], metavar="ENTITY=STATE")
    ap.add_argument("--wait-absent", action="append", default=[], metavar="ENTITY")
    ap.add_argument("--no-start", action="store_true", help="fail when Home Assistant does not run yet")
    ap.add_argument("--stop", action="store_true", help="stop Home Assistant after printing")
    ap.add_argument("--stop-only", action="store_true", help="only stop Home Assistant")
    a = ap.parse_args()
    for w in a.wait_state:
        if "=" not in w:
            ap.error(f"--wait-state {w!r}: expected ENTITY=STATE, e.g. binary_sensor.x=on")
    p = Paths(a.config_dir)
    if a.stop_only:
        stop_ha(p)
        return 0
    try:
        return asyncio.run(amain(a))
    finally:
        if a.stop:
            stop_ha(p)


if __name__ == "__main__":
    sys.exit(main())
