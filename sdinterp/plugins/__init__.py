"""Built-in plugins: samplers, scorers, restylers, protocols and the tools that ship as commands.

Each is registered in code by ``sdinterp.plugin_manager.DEFAULT_PLUGINS`` (never through entry
points, which are for third parties). A plugin depends on the core, the public kit
(:mod:`sdinterp.cli_kit`) and the adapters' public modules only: never on another plugin (what it
needs of one it looks up in the registry by name) and never on a private module or name of another
package (tests/test_import_rules.py).
"""
