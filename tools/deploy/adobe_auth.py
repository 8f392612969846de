"""App Builder's ``require-adobe-auth: true``, which only Adobe's runtime can enforce.

aio rewrites such a web action, for Adobe I/O Runtime only, into a sequence whose first
action (``/adobeio/shared-validators-v1/headless-v2``) checks the caller's Adobe IMS token:
the action becomes ``__secured_<name>``, no longer a web action, and the sequence takes its
name and web flags (aio-lib-runtime ``rewriteActionsWithAdobeAuthAnnotation``). Anywhere
else the validator does not exist, so deploying the annotation would leave the endpoint open
while the manifest says it is protected: refused, unless the user says to deploy without it.
"""

from __future__ import annotations

from dataclasses import replace

from tools.deploy.credentials import AIO_DEFAULT_APIHOST
from tools.deploy.entity_types import ConfigError
from tools.manifest import Action, Manifest
from tools.manifest.model import ActionSequence, WebEntity

ANNOTATION = "require-adobe-auth"
VALIDATOR = "/adobeio/shared-validators-v1/headless-v2"
SECURED = "__secured_"


def protected(manifest: Manifest) -> list[Action | ActionSequence]:
    """The web actions and sequences whose ``require-adobe-auth`` is true."""
    return [entity for entity in (*manifest.actions(), *manifest.sequences())
            if entity.web != "no"
            and entity.annotations.get(ANNOTATION) in (True, "true", "yes")]


def for_host(manifest: Manifest, apihost: str, *, without: bool) -> tuple[Manifest, list[str]]:
    """The manifest as it can be deployed to ``apihost``, and what the user must be told.

    Adobe's runtime: rewritten as aio rewrites it. Elsewhere: ConfigError naming the actions,
    unless ``without`` (--no-adobe-auth), which drops the annotation and warns per action."""
    found = protected(manifest)
    if not found:
        return manifest, []
    names = ", ".join(entity.qualified_name for entity in found)
    if apihost.rstrip("/") == AIO_DEFAULT_APIHOST:
        return _rewritten(manifest, {entity.qualified_name for entity in found}), []
    if not without:
        raise ConfigError(f"{names}: require-adobe-auth is enforced only on Adobe I/O Runtime "
                          f"(its validator action does not exist on {apihost}); protect them "
                          "with require-whisk-auth, or deploy with --no-adobe-auth to deploy "
                          "them without it")
    wanted = {entity.qualified_name for entity in found}
    warnings = [f"{name}: deployed without require-adobe-auth: its endpoint is not protected"
                for name in sorted(wanted)]
    return _stripped(manifest, wanted), warnings


def _without_annotation(entity: Action | ActionSequence) -> dict[str, object]:
    return {key: value for key, value in entity.annotations.items() if key != ANNOTATION}


def _stripped(manifest: Manifest, names: set[str]) -> Manifest:
    def strip(entity: WebEntity) -> WebEntity:
        return (replace(entity, annotations=_without_annotation(entity))
                if entity.qualified_name in names else entity)

    return manifest.mapped(strip)


def _rewritten(manifest: Manifest, names: set[str]) -> Manifest:
    packages = []
    for package in manifest.packages:
        actions, sequences = [], list(package.sequences)
        for action in package.actions:
            if action.qualified_name not in names:
                actions.append(action)
                continue
            secured = replace(action, name=SECURED + action.name, web="no", web_given=True,
                              annotations=_without_annotation(action), routes=())
            actions.append(secured)
            sequences.append(ActionSequence(
                package=package.name, name=action.name,
                components=(VALIDATOR, secured.qualified_name),
                web="raw" if action.web == "raw" else "yes", web_given=True,
                web_final=action.web_final, routes=action.routes))
        packages.append(replace(package, actions=tuple(actions), sequences=tuple(sequences)))
    return replace(manifest, packages=tuple(packages))
