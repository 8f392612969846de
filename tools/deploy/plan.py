"""What a project should look like on the server: one :class:`Desired` entity each, in deploy
order, every one marked as this project's with wskdeploy's ``whisk-managed`` annotation (so
wskdeploy, ``aio`` and this tool agree on who owns what). Each entity type builds its own
(entity_types/); this only puts them in order and builds the code they need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tools.deploy.entity_types import ENTITY_TYPES, Desired, PlanContext, managed_annotation
from tools.manifest import Action, Manifest
from tools.runtimes import Artifact, runtime


@dataclass(frozen=True)
class BuildOptions:
    vendor: bool = False  # install requirements.txt into each zip
    pip_args: tuple[str, ...] = ()
    load_check: bool = True  # import each built action as its runtime would (its code runs)


@dataclass(frozen=True)
class Built:
    """A project's artifacts, its name and the ``whisk-managed`` annotation that marks its
    entities."""

    project: str
    managed: dict[str, str]
    artifacts: list[Artifact]


def build_artifacts(manifest: Manifest, options: BuildOptions = BuildOptions(),
                    say: Callable[[str], None] | None = None) -> list[Artifact]:
    """Each action's code built by its kind's runtime, in the manifest's order."""
    by_runtime: dict[str, list[Action]] = {}
    for action in manifest.actions():
        by_runtime.setdefault(runtime(action.kind).family, []).append(action)
    built: dict[str, Artifact] = {}
    for actions in by_runtime.values():
        for artifact in runtime(actions[0].kind).build(
                manifest, actions, vendor=options.vendor, pip_args=options.pip_args,
                say=say, load_check=options.load_check):
            built[artifact.action.qualified_name] = artifact
    return [built[action.qualified_name] for action in manifest.actions()]


def build_project(manifest: Manifest, project: str, options: BuildOptions) -> Built:
    """The artifacts of every action, and who owns what the manifest deploys."""
    return Built(project, managed_annotation(project, manifest, manifest.path.read_bytes()),
                 build_artifacts(manifest, options))


def plan(manifest: Manifest, artifacts: Sequence[Artifact], namespace: str,
         managed: dict[str, str]) -> list[Desired]:
    """Every entity of the manifest in deploy order; ConfigError when one exceeds a limit."""
    context = PlanContext(manifest, {item.action.qualified_name: item for item in artifacts},
                          namespace, managed)
    return [desired for entity_type in ENTITY_TYPES for desired in entity_type.desired(context)]
