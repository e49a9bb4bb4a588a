"""Conformance: the checks per capability area (`checks/`), comparisons under the one tolerance policy
(`compare`, `tolerances`), result records (`results`), and the report set with its reproductions (`reports`,
`report_set`, `repro`)."""
