/**
 * The compare-and-swap at the heart of the cache, run atomically inside Redis.
 *
 * KEYS[1]  the entity (or lookup) key
 * ARGV[1]  the new envelope, serialized
 * ARGV[2]  its version `v`
 * ARGV[3]  TTL in milliseconds (every write sets one)
 *
 * Returns 1 written, 2 refreshed (same version: rewritten to extend the TTL),
 * 0 rejected (a higher version is stored). A stored value that is not a
 * well-formed envelope (same checks as parseEnvelope in envelope.ts) counts as
 * missing, so garbage can never block a write. Because a higher version always
 * wins, replaying this command later (a client resend after a timeout) is
 * harmless; that is why the write path never uses a bare SET.
 */
export const CAS_ENVELOPE_LUA = `
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
