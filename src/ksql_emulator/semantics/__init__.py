"""What the expression compiler needs to know about an expression before compiling it: the
columns in scope, ksqlDB's typing rules, literal coercion and how ksqlDB prints expressions."""
