/**
 * The Lua scripts at the heart of the cache, each run atomically inside Redis.
 * Every key passed alongside a value's key (an entity's or a list's) is its
 * lease (`<key>:lease`), in the same hash slot.
 */

/**
 * Shared body: compare-and-swap of KEYS[1] with ARGV[1] (envelope), ARGV[2]
 * (its version), ARGV[3] (TTL ms). Returns 1 written, 2 refreshed (same
 * version, rewritten to extend the TTL), 0 rejected (a higher version is
 * stored). A stored value that is not a well-formed envelope (the same checks
 * as parseEnvelope in envelope.ts) counts as missing, so garbage never blocks
 * a write. Because a higher version always wins, a command replayed late by
 * the client is harmless; that is why no write path uses a bare SET.
 */
const CAS_BODY = `
local function stored_version(raw)
  local ok, e = pcall(cjson.decode, raw)
  if not ok or type(e) ~= 'table' then return nil end
  local v = e['v']
  if type(v) ~= 'number' or v < 0 or v ~= math.floor(v) then return nil end
  local data = e['data']
  if data == nil or (data ~= cjson.null and type(data) ~= 'table') then return nil end
  if type(e['written_at']) ~= 'string' then return nil end
  if type(e['delta']) ~= 'number' or type(e['exp']) ~= 'number' then return nil end
  return v
end

local incoming = tonumber(ARGV[2])
local raw = redis.call('GET', KEYS[1])
local result = 1
if raw then
  local v = stored_version(raw)
  if v ~= nil then
    if v > incoming then return 0 end
    if v == incoming then result = 2 end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return result
`;

/**
 * The write of a committed change (mutations, repairs). KEYS[1] the value's
 * key, KEYS[2] its lease. Cancels any outstanding fill lease first: a reader
 * that loaded an older value before this write must not land its fill even if
 * this value is evicted.
 */
export const CAS_WRITE_LUA = `redis.call('DEL', KEYS[2])\n${CAS_BODY}`;

/**
 * Fill after a read miss. KEYS[1] the value's key, KEYS[2] its lease, ARGV[4] the
 * lease token. Lands only while the token still holds the lease (no write has
 * cancelled it and it has not expired), then releases it. Returns 3 when the
 * lease was lost, otherwise as CAS_BODY.
 */
export const CAS_FILL_LUA = `if redis.call('GET', KEYS[2]) ~= ARGV[4] then return 3 end
redis.call('DEL', KEYS[2])
${CAS_BODY}`;

/**
 * Takes fill leases: after a read missed (or found a malformed value), and for
 * early refreshes. KEYS are lease keys; returns 1 per lease taken. SET NX, so
 * of concurrent readers exactly one gets each lease.
 */
export const ACQUIRE_LEASES_LUA = `
local taken = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then taken[i] = 1 else taken[i] = 0 end
end
return taken
`;

/**
 * Gives leases back: KEYS are lease keys, ARGV[1] the token. Only a lease this
 * token still holds is deleted; one another reader took since stays.
 */
export const RELEASE_LEASES_LUA = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 0
`;
