#!/usr/bin/env bash
# Start/stop the demo's local mosquitto on 127.0.0.1:${WARDWATCH_BROKER_PORT:-1883}.
# Does nothing if something already listens there (your own broker, or an earlier start).
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${WARDWATCH_BROKER_PORT:-1883}
RUN=.run/mosquitto
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
case "${1:-start}" in
  start)
    if listening; then echo "broker: something already listens on 127.0.0.1:$PORT, using it"; exit 0; fi
    command -v mosquitto >/dev/null || { echo "broker: mosquitto not installed; run: make setup" >&2; exit 1; }
    mkdir -p "$RUN"
    cat > "$RUN/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest stdout
CONF
    # Started by hand (no systemd here). Logs go to stdout, redirected by us, so the
    # mosquitto user needs no writable pid/log directory.
    nohup mosquitto -c "$RUN/mosquitto.conf" > "$RUN/mosquitto.log" 2>&1 &
    echo $! > "$RUN/mosquitto.pid"
    for _ in $(seq 50); do listening && break; sleep 0.1; done
    listening || { echo "broker: mosquitto did not start, see $RUN/mosquitto.log" >&2; exit 1; }
    echo "broker: mosquitto listening on 127.0.0.1:$PORT (log: $RUN/mosquitto.log, stop: make broker-stop)"
    ;;
  stop)
    if [ -f "$RUN/mosquitto.pid" ]; then kill "$(cat "$RUN/mosquitto.pid")" 2>/dev/null || true; rm -f "$RUN/mosquitto.pid"; echo "broker: stopped"; fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
