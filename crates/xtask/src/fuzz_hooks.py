# Loaded by `cargo xtask fuzz` (SCHEMATHESIS_HOOKS): how schemathesis sends the import route's NDJSON body.
# The description gives `application/fhir+ndjson` a string schema (one FHIR resource per line), which schemathesis
# has no serializer for; this sends the generated text as UTF-8 (and anything else as one JSON line), so the route
# is fuzzed instead of erroring out.
import json

import schemathesis


@schemathesis.serializer("application/fhir+ndjson")
def fhir_ndjson(ctx, value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return (json.dumps(value) + "\n").encode("utf-8")
