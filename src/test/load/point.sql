-- point lookup of a random service (n = 3: an unknown id, no row)
\set i random(1, 3)
SELECT load_run('point', id) FROM load_ids WHERE n = :i;
