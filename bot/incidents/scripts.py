"""The incident store's Lua scripts: one round trip per step instead of a dozen.

Each runs atomically in Redis, so a step that read, decided and wrote under a redis-py `Lock`
(acquire, GET, GET, HGET, write, release: ~10 round trips and the lock's polling) is one
EVALSHA. Key names still come from `bot/store/keys.py`: the scripts get them, or the prefix of a
family of keys (`keys.incident("")`), as arguments.
"""

from __future__ import annotations

POST_CANDIDATES = """
-- KEYS[1] open incidents (zset); ARGV: incident key prefix, alert key prefix, limit, the alert
-- name, a byte needle for it ('' when JSON escaping could change it), the post's fingerprints.
-- Returns the stored JSON of the open incidents holding an alert of that name AND one of:
-- Alertmanager's group key, one of the post's fingerprints, or an alert of that name received
-- by webhook. Only those can be what Matcher.for_post picks; the others cost nothing to skip.
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
local name, needle = ARGV[4], ARGV[5]
local out = {}
for _, id in ipairs(ids) do
  local raw = redis.call('GET', ARGV[1] .. id)
  if raw and (needle == '' or string.find(raw, needle, 1, true)) then
    local incident = cjson.decode(raw)
    local named = false
    for _, a in pairs(incident.alerts) do
      if a.name == name then named = true break end
    end
    local keep = false
    if named then
      keep = string.sub(incident.group_key, 1, 3) == 'am:'
      for i = 6, #ARGV do
        if not keep and incident.alerts[ARGV[i]] ~= nil then keep = true end
      end
      if not keep then
        for fp, _ in pairs(incident.alerts) do
          local rec = redis.call('GET', ARGV[2] .. fp)
          if rec then
            local alert = cjson.decode(rec).alert
            local posted = alert.source == 'alertmanager' and alert.group_key == cjson.null
            if alert.name == name and not posted then keep = true break end
          end
        end
      end
    end
    if keep then table.insert(out, raw) end
  end
end
return out
"""

LOAD_GROUP = """
-- KEYS[1] the group's pointer; ARGV: incident key prefix, jobs key suffix, job id.
-- The group's current incident (id, stored JSON) and what this job did to it before ('' each
-- when there is none): all `attach` must know before deciding, in one round trip.
local id = redis.call('GET', KEYS[1])
if not id then return {'', '', ''} end
local raw = redis.call('GET', ARGV[1] .. id) or ''
local earlier = redis.call('HGET', ARGV[1] .. id .. ARGV[2], ARGV[3]) or ''
return {id, raw, earlier}
"""

COMMIT = """
-- Write an incident if nothing changed it since it was read (compare-and-set), else false.
-- KEYS: 1 the group's pointer, 2 open incidents (zset), 3 the incident number sequence.
-- ARGV: 1 incident key prefix, 2 jobs key suffix, 3 thread pointer key ('' none), 4 expected
-- group pointer / the incident's id, 5 the JSON it had when read ('' = opening a new one),
-- 6 its new JSON (opening: what follows the id, numbered here so a lost race wastes no
-- number), 7 job id ('' none), 8 the job's change, 9 '1' resolved, 10 opened-at score,
-- 11 incident TTL, 12 group TTL, 13 jobs TTL, 14 '1' when the group pointer must still be
-- ARGV[4] (attach: another job may have opened the group's next incident meanwhile).
-- Returns the incident's id.
local ptr = redis.call('GET', KEYS[1]) or ''
if ARGV[14] == '1' and ptr ~= ARGV[4] then return false end
local id, json = ARGV[4], ARGV[6]
if ARGV[5] == '' then
  id = 'INC-' .. redis.call('INCR', KEYS[3])
  json = '{"id":"' .. id .. '"' .. json
elseif (redis.call('GET', ARGV[1] .. id) or '') ~= ARGV[5] then
  return false
end
redis.call('SET', ARGV[1] .. id, json, 'EX', ARGV[11])
redis.call('SET', KEYS[1], id, 'EX', ARGV[12])
if ARGV[3] ~= '' then redis.call('SET', ARGV[3], id, 'EX', ARGV[12]) end
if ARGV[9] == '1' then
  redis.call('ZREM', KEYS[2], id)
else
  redis.call('ZADD', KEYS[2], ARGV[10], id)
end
if ARGV[7] ~= '' then
  redis.call('HSET', ARGV[1] .. id .. ARGV[2], ARGV[7], ARGV[8])
  redis.call('EXPIRE', ARGV[1] .. id .. ARGV[2], ARGV[13])
end
return id
"""
