"""Built-in plugins (installed as ``sdinterp.plugins``): samplers, scorers, restylers…"""
