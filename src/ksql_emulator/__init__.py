"""A ksqlDB-compatible engine and REST server, for machines without a ksqlDB server.

Layers, top to bottom. A module imports only from layers below its own; names on one line
separated by `|` are siblings that do not import each other. `scripts/check` enforces this
(import-linter, contracts in pyproject.toml), function-level imports included, and no two
sibling modules or packages anywhere import each other (no cycles).

    __main__ | test_runner        `python -m ksql_emulator`; ksql-test-runner's command
    app | qtt                     composition root and CLI (app.cli); the QTT harness
    server | kafka | service      REST routes | Kafka I/O | the backend the routes and the
                                  Kafka layer drive (statements, pull/push queries, tasks)
    engine                        statements -> catalog changes and running queries
    runtime                       operators over records, state stores, topologies
    plan                          logical plan of a query
    analysis                      query, join and GROUP BY analysis (uses the compiler)
    expressions                   the expression compiler's entry point
    compiler                      expression tree -> Python callables
    semantics                     scope, typing rules, coercion, expression text
    parser | functions | serde | catalog
                                  tokens -> syntax tree | built-in functions | formats |
                                  sources and types by name
    arithmetic
    casts
    text_forms | widening
    sql_types | contracts | metrics
                                  SQL types | what the parts agree on (records, backend API,
                                  hosting, partitioning): importable from every layer |
                                  per-query Prometheus metrics (counted by kafka, served by
                                  server)
    errors                        the leaf
"""
