"""The developer tools: never shipped in an action's zip.

- ``manifest``: reads manifest.yaml (or App Builder's app.config.yaml) and ``.env``,
  shared by both sides below.
- ``deploy``: ``deploy.py``'s commands: build zips, talk to OpenWhisk's REST API.
- ``local``: ``python -m actions.<name>``: run or serve actions on this machine.
- ``sandbox``: an emulator of Adobe IMS and AEM on loopback, for local runs and tests.
- ``errors``, ``loopback``: what the sides share (one error root, one test server).
"""
