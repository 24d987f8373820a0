"""Typed fields out of documents (POST /analyze/extract, issue 12).

- ``fields``  `fields` / `schema` → the JSON Schema asked for (names safe for a 1C Структура)
- ``parse``   the JSON object out of a model's answer, leniently
- ``coerce``  Russian numbers, dates, yes/no, enumerations → the schema's types
- ``check``   validation with the jsonschema library; Russian error lines
- ``engine``  calls, one repair call, splitting large field lists
- ``answer``  the route's body check and answer shape
- ``job``     the "analyze/extract" job route (and files for "analyze/text" jobs)
"""
