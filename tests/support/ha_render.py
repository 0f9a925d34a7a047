"""Render Home Assistant MQTT value templates the way Home Assistant does, for the
discovery test (tests/homeassistant.rs).

Home Assistant renders `value_template` and `json_attributes_template` with Jinja2 in an
immutable sandbox, with the raw payload as `value` and, when it parses as JSON, the parsed
payload as `value_json`. Home Assistant adds its own filters; wardwatch's templates use only
Jinja2's built-in ones (selectattr, list, length, first, default, tojson), so Jinja2's
ImmutableSandboxedEnvironment renders them as Home Assistant would. StrictUndefined makes
any use of a missing key an error (Home Assistant would log a warning and render empty).

stdin: a JSON list of {"template": str, "payload": str}; stdout: a JSON list of
{"ok": rendered} or {"error": message}, in the same order.
"""
import json
import sys

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

env = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
out = []
for req in json.load(sys.stdin):
    try:
        variables = {"value": req["payload"]}
        try:
            variables["value_json"] = json.loads(req["payload"])
        except ValueError:
            pass
        out.append({"ok": env.from_string(req["template"]).render(variables).strip()})
    except Exception as e:  # noqa: BLE001 - every failure is reported to the test
        out.append({"error": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout)
