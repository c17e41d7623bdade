-- pganalyze: query stats of every database, or the issues of one
\set i random(1, 3)
\if :i = 3
SELECT load_run('pga_issues');
\else
SELECT load_run('pga_stats');
\endif
