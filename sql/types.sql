--
-- Type conversion: every value goes through its column type's input
-- function; nothing is coerced, clamped or truncated.
--
SELECT sim_reset();

CREATE FOREIGN TABLE typed (
    id text,
    n bigint OPTIONS (field 'n'),
    i integer OPTIONS (field 'i'),
    num numeric OPTIONS (field 'num'),
    f double precision OPTIONS (field 'f'),
    b boolean OPTIONS (field 'b'),
    ts timestamptz OPTIONS (field 'ts'),
    j jsonb OPTIONS (field 'j'),
    arr text[] OPTIONS (field 'arr'),
    u uuid OPTIONS (field 'u'),
    nested text OPTIONS (field '/deep/inner/0/v'),
    t text OPTIONS (field 't')
) SERVER ch OPTIONS (resource 'postgres_services');

-- Serve one body for the service list.
CREATE FUNCTION serve(body text) RETURNS void LANGUAGE sql AS $$
    SELECT sim_fault(jsonb_build_object(
        'match', jsonb_build_object('method', 'GET', 'path', '/postgres$'),
        'action', jsonb_build_object('status', 200, 'body', body,
                                     'content_type', 'application/json')));
$$;

-- a row of every type
SELECT serve($${"status": 200, "requestId": "r1", "result": [
  {"id": "a", "n": "-4748036479882663975", "i": 42, "num": 12345678901234567890.123456789,
   "f": 1.5e3, "b": true, "ts": "2026-05-25T16:42:09Z",
   "j": {"k": [1, 2, {"x": null}]}, "arr": ["x", null, "z"],
   "u": "f71df78e-ddad-82d0-8dfa-abbec741b82e",
   "deep": {"inner": [{"v": "found"}]}, "t": "caf\u00e9 \ud83d\ude00"},
  {"id": "b", "n": 9223372036854775807, "i": null, "ts": 1779667200, "arr": [], "t": ""},
  {"id": "c", "n": -9223372036854775807, "ts": "2026-05-25T16:42:09.123456+05:45", "t": null}
]}$$);
SELECT * FROM typed ORDER BY id;

-- characters json-c 0.16 alone would decode to U+FFFD: escaped surrogate
-- pairs for U+xD800..U+xDFFF, read from the page (t) and inside nested
-- values (j, arr)
SELECT serve($${"status": 200, "result": [{"id": "a",
  "t": "\ud836\udc00 \ud876\udc00 \udbf7\udfff \\\ud837\ude00",
  "j": {"k": "\ud837\ude00"}, "arr": ["\ud876\udc00"]}]}$$);
SELECT id, convert_to(t, 'UTF8') AS t_utf8, convert_to(j->>'k', 'UTF8') AS j_utf8,
       convert_to(arr[1], 'UTF8') AS arr_utf8 FROM typed;

-- text of any JSON value: objects and arrays as JSON text
SELECT serve('{"status": 200, "result": [{"id": "a", "t": {"x": 1}}, {"id": "b", "t": [1, "two"]}, {"id": "c", "t": 12.50}]}');
SELECT id, t FROM typed ORDER BY id;

\set VERBOSITY default
-- values that do not fit their column are errors naming column and table
SELECT serve('{"status": 200, "result": [{"id": "a", "n": "12abc"}]}');
SELECT n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": true}]}');
SELECT n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": 12.9}]}');
SELECT n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": {}}]}');
SELECT n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": 1e400}]}');
SELECT n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": "9223372036854775808"}]}');
SELECT n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": 18446744073709551616}]}');
SELECT n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "i": 2147483648}]}');
SELECT i FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "f": NaN}]}');
SELECT f FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "ts": "2026-05-25T16:42:09"}]}');
SELECT ts FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "t": "nul\u0000byte"}]}');
SELECT t FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "u": "not-a-uuid"}]}');
SELECT u FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "arr": "not an array"}]}');
SELECT arr FROM typed;
-- a field declared NOT NULL: null or missing is an error, never a NULL
ALTER FOREIGN TABLE typed ALTER COLUMN n SET NOT NULL;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": 1}, {"id": "b", "n": null}]}');
SELECT id, n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": 1}, {"id": "b"}]}');
SELECT id, n FROM typed;
SELECT serve('{"status": 200, "result": [{"id": "a", "n": 1}, {"id": "b"}]}');
SELECT id FROM typed;  -- not selected: not checked
ALTER FOREIGN TABLE typed ALTER COLUMN n DROP NOT NULL;
-- a column that is not selected is not converted
SELECT serve('{"status": 200, "result": [{"id": "a", "n": "12abc"}]}');
SELECT id FROM typed;

-- timestamps do not depend on the session's TimeZone or DateStyle
SET TimeZone = 'Pacific/Chatham';
SET DateStyle = 'SQL, DMY';
SELECT serve('{"status": 200, "result": [{"id": "a", "ts": "2026-05-25T16:42:09Z"}, {"id": "b", "ts": 0}]}');
SELECT id, ts AT TIME ZONE 'UTC' AS utc FROM typed ORDER BY id;
RESET TimeZone;
RESET DateStyle;

DROP FUNCTION serve(text);
DROP FOREIGN TABLE typed;
