"""What the local provider peers share: the request recorder, the fault rules read from
DIR/faults.json, and the DIR/ready file that tells a test the peer serves."""
import json
import os
import sys
import threading


def read_json(path):
    """The JSON in `path`, or None when the file is missing or unreadable (said on stderr)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        print(f"{os.path.basename(sys.argv[0])}: ignoring unreadable {os.path.basename(path)}: {error}", file=sys.stderr)
        return None


class Recorder:
    """Appends one JSON line per request to DIR/received.jsonl, flushed at once."""

    def __init__(self, directory):
        self.file = open(os.path.join(directory, "received.jsonl"), "a", encoding="utf-8")
        self.lock = threading.Lock()

    def record(self, entry):
        line = json.dumps(entry, ensure_ascii=False)
        with self.lock:
            self.file.write(line + "\n")
            self.file.flush()


class Faults:
    """Rules from DIR/faults.json, read again on every request. A rule applies when its
    "to_contains" is in the recipient; "times" limits it to the first N matches (counted here)."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "faults.json")
        self.used = {}
        self.lock = threading.Lock()

    def match(self, to):
        rules = read_json(self.path)
        if isinstance(rules, dict):
            rules = [rules]
        for rule in rules if isinstance(rules, list) else []:
            if not isinstance(rule, dict) or str(rule.get("to_contains") or "") not in (to or ""):
                continue
            if rule.get("times") is not None:
                key = json.dumps(rule, sort_keys=True)
                with self.lock:
                    used = self.used.get(key, 0)
                    if used >= int(rule["times"]):
                        continue
                    self.used[key] = used + 1
            return rule
        return None


def write_ready(directory, port, scheme="http"):
    """Writes DIR/ready ({"port", "pid", "url"}) atomically, so a test never reads half of it."""
    ready = os.path.join(directory, "ready")
    with open(ready + ".tmp", "w", encoding="utf-8") as out:
        json.dump({"port": port, "pid": os.getpid(), "url": f"{scheme}://127.0.0.1:{port}/"}, out)
    os.replace(ready + ".tmp", ready)
