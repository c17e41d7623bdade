-- the slowest patterns of a random service, ORDER BY ... LIMIT pushed
\set i random(1, 2)
SELECT load_run('top_n', id) FROM load_ids WHERE n = :i;
