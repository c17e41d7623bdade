-- a statement that statement_timeout (pgbench -D timeout_ms=N) cancels
-- while the simulator delays or trickles its answer (key load-slow)
SET statement_timeout = :timeout_ms;
SELECT load_run('cancel');
RESET statement_timeout;
