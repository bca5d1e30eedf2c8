"""The static files storage: WhiteNoise's compressed, hashed files, with ES module imports.

The pages' scripts are ES modules that import one another by relative path
(``import { api } from "./lib/api.js"``). Browsers cache static files for a year, so after a
deploy each module must import the *hashed* name of the others (``./lib/api.<hash>.js``), or a
page could run a new chat.js against an old api.js. Django rewrites those import paths only
when the storage asks for it (``support_js_module_import_aggregation``). Hashing a module
needs the hashes of what it imports first, so the import graph must have no cycle. Django
finds the imports with a regular expression that reads comments too: a comment above the
imports that says "export " or "import " (word then space) is read as the start of a
statement, and collectstatic fails.
"""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ModuleAwareStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Also rewrites ``import … from "./x.js"`` in scripts to the hashed file names."""

    support_js_module_import_aggregation = True
    # A module's hashed name is known once those of everything it imports are, and a pass
    # takes files in no useful order: in the worst case each pass settles one more level of
    # the import graph. The chat page's modules are 12 deep (chat/main.js, composer.js,
    # navigation.js, … down to lib/dom.js); Django's 5 passes failed with "Max post-process
    # passes exceeded" depending on the order the files were found in. The passes stop as
    # soon as one changes nothing, so the spare ones cost nothing.
    max_post_process_passes = 24
