"""The deployment manifest, read once for both sides: ``deploy.py`` and the local runner.

``load_env`` reads ``.env`` (the shell wins); ``load_manifest`` parses, checks and
resolves the manifest against it, naming every fault by its manifest path.
"""

from tools.errors import ManifestError
from tools.manifest.model import (
    Action,
    ActionSequence,
    Binding,
    Limits,
    Manifest,
    Package,
    Rule,
    Trigger,
)
from tools.manifest.parser import MANIFEST_NAMES, default_manifest, load_manifest
from tools.manifest.render import masked, render
from tools.manifest.variables import UnsetVariablesError, load_env, substitute

__all__ = [
    "MANIFEST_NAMES",
    "Action",
    "ActionSequence",
    "Binding",
    "Limits",
    "Manifest",
    "ManifestError",
    "Package",
    "Rule",
    "Trigger",
    "UnsetVariablesError",
    "default_manifest",
    "load_env",
    "load_manifest",
    "masked",
    "render",
    "substitute",
]
