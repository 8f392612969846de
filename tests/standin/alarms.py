"""The alarms feed as apache/openwhisk-package-alarms runs it (action/alarm.js,
action/alarmWebAction.js): its package and feed actions under /whisk.system, and one
registration a trigger, created, read, updated and deleted by lifecycle events."""

from __future__ import annotations

from dataclasses import dataclass

from tests.standin.fields import default_limits, key_value
from tests.standin.store import Store
from tests.standin.wire import Doc, Json

SYSTEM = "whisk.system"
ALARMS = f"{SYSTEM}/alarms"  # the package's document id
FEEDS = {"alarm": "cron", "once": "date", "interval": "minutes"}  # feed action: required input


@dataclass(frozen=True)
class FeedInvocation:
    feed: str  # "whisk.system/alarms/alarm", whichever binding it was reached through
    body: Doc  # as POSTed: lifecycleEvent, triggerName, authKey, the feed's inputs
    args: Doc  # what the feed ran with: the package's and binding's parameters under the body



class _Refused(Exception):
    """A feed action's failure; ``result`` goes in its ``error``."""

    def __init__(self, result: Json) -> None:
        super().__init__(result)
        self.result = result


class AlarmsFeed:
    """The alarms feed: one registration a trigger, its package and actions in ``store``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.registrations: dict[str, Doc] = {}  # "/ns/trigger" -> the feed's inputs
        self.invocations: list[FeedInvocation] = []
        self._install()

    def _install(self) -> None:
        """/whisk.system/alarms and its feed actions, as a deployment of the package has them."""
        self.store.packages[ALARMS] = {
            "namespace": SYSTEM, "name": "alarms", "binding": {}, "parameters": [],
            "annotations": [key_value("description", "Alarms and periodic utility")],
            "publish": True, "version": "0.0.1", "updated": self.store.now()}
        for feed in FEEDS:
            self.store.actions[f"{ALARMS}/{feed}"] = {
                "namespace": ALARMS, "name": feed, "parameters": [], "publish": True,
                "exec": {"kind": "nodejs:20", "code": "// the stand-in's feed", "binary": False},
                "limits": default_limits(), "version": "0.0.1",
                "annotations": [key_value("exec", "nodejs:20"), key_value("feed", True)],
                "updated": self.store.now()}

    def run(self, feed: str, body: Doc, args: Doc) -> tuple[bool, Json]:
        """(success, result) of one invocation of ``feed``."""
        self.invocations.append(FeedInvocation(feed, dict(body), dict(args)))
        try:
            return True, self._event(feed.rpartition("/")[2], args)
        except _Refused as refused:
            return False, {"error": refused.result}

    def _event(self, feed: str, args: Doc) -> Json:
        event = args.get("lifecycleEvent")
        if event not in ("CREATE", "READ", "UPDATE", "DELETE"):  # PAUSE, UNPAUSE too
            raise _Refused("unsupported lifecycleEvent")
        if not args.get("authKey"):
            raise _Refused({"error": "no authKey parameter was provided"})
        if not args.get("triggerName"):
            raise _Refused({"error": "no trigger name parameter was provided"})
        name = str(args["triggerName"])  # createWebParams: taken in the caller's namespace
        name = "/".join(name.split("/")[2:]) if name.startswith("/") else name
        trigger = f"/{self.store.namespace}/{name}"
        exists = trigger[1:] in self.store.triggers  # verifyTriggerAuth: GET it with authKey
        if args["authKey"] != self.store.auth or not (exists or event == "DELETE"):
            raise _Refused({"error": "Trigger authentication request failed."})
        inputs = {key: value for key, value in args.items()
                  if key not in ("lifecycleEvent", "triggerName", "authKey", "apihost")}
        known = self.registrations.get(trigger)
        if event == "CREATE":
            self._check(feed, inputs)
            if known is not None:
                raise _Refused({"error": "error creating alarm trigger.",
                                "message": "Document update conflict."})
            self.registrations[trigger] = inputs
            return {"status": "success"}
        if known is None:
            raise _Refused({"error": f"could not find trigger {trigger} in the database"})
        if event == "READ":
            shown = ("cron", "minutes", "date", "deleteAfterFire", "startDate", "stopDate")
            return {"config": {"name": name, "namespace": self.store.namespace,
                               "payload": known.get("trigger_payload", {}),
                               **{key: known[key] for key in shown if key in known}},
                    "status": {"active": True}}
        if event == "DELETE":
            del self.registrations[trigger]
            return {"status": "success"}
        updatable = {"trigger_payload", FEEDS[feed], "startDate", "stopDate", "deleteAfterFire"}
        changes = {key: value for key, value in inputs.items() if key in updatable}
        if not changes:
            raise _Refused({"error": "no updatable parameters were specified"})
        known.update(changes)
        return {"status": "success"}

    @staticmethod
    def _check(feed: str, inputs: Doc) -> None:
        required = FEEDS[feed]
        value = inputs.get(required)
        if not value:
            what = {"alarm": "alarms trigger feed", "once": "alarms once trigger feed",
                    "interval": "interval trigger feed"}[feed]
            raise _Refused({"error": f"{what} is missing the {required} parameter"})
        if feed == "alarm" and len(str(value).split()) not in (5, 6):
            raise _Refused({"error": f"cron pattern '{value}' is not valid"})
        if feed == "interval" and not str(value).lstrip("-").isdigit():
            raise _Refused({"error": "the minutes parameter must be an integer"})
        if feed == "interval" and int(value) <= 0:
            raise _Refused({"error": "the minutes parameter must be an integer greater than zero"})
