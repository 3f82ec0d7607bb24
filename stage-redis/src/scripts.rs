//! The Lua scripts that stage-redis runs in Redis, where a step must read
//! and write atomically: the stream's backlog, a bounded add, and the trim
//! of what every group is done with.
//!
//! Acknowledged entries are not deleted one by one (`XDEL` scans a node of
//! the stream for each ID, and cost the server more than all the other
//! commands together); the stream is trimmed instead, once per batch of
//! acknowledgements, below the oldest entry that any consumer group still
//! needs: its oldest pending entry, or the first it has not read. So the
//! stream stays short, and several groups can share it.

/// Lua functions the scripts share.
macro_rules! functions {
    () => {
        r"
-- The fields of each consumer group of the stream KEYS[1], as tables;
-- none if the stream does not exist.
local function groups()
    if redis.call('EXISTS', KEYS[1]) == 0 then
        return {}
    end
    local all = {}
    for _, flat in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
        local group = {}
        for i = 1, #flat, 2 do
            group[flat[i]] = flat[i + 1]
        end
        all[#all + 1] = group
    end
    return all
end

-- The entries not yet acknowledged by the group furthest behind: its
-- pending ones and those it has not read. Without a group, or where Redis
-- cannot tell what a group has not read, the stream's length (which is
-- never less).
local function backlog()
    local all = groups()
    local length = redis.call('XLEN', KEYS[1])
    if #all == 0 then
        return length
    end
    local most = 0
    for _, group in ipairs(all) do
        local behind = length
        if group['lag'] then
            behind = group['pending'] + group['lag']
        end
        if behind > most then
            most = behind
        end
    end
    return math.min(most, length)
end
"
    };
}

/// Returns the stream's backlog (see `backlog` above).
pub(crate) const BACKLOG: &str = concat!(functions!(), "return backlog()");

/// Adds as many of the messages (`ARGV[2..]`) as the bound (`ARGV[1]`)
/// leaves room for in the backlog, and returns their IDs: a full stream
/// makes the sender wait; nothing unread is ever trimmed.
pub(crate) const ADD_WITHIN_BOUND: &str = concat!(
    functions!(),
    r"
local room = tonumber(ARGV[1]) - backlog()
local ids = {}
for i = 2, math.min(#ARGV, room + 1) do
    ids[#ids + 1] = redis.call('XADD', KEYS[1], '*', 'm', ARGV[i])
end
return ids
"
);

/// Trims the stream below the oldest entry that some group still needs:
/// its oldest pending entry, or the one after the last it read. Returns
/// how many entries went.
pub(crate) const TRIM_DONE: &str = concat!(
    functions!(),
    r"
-- Whether stream ID a comes before b.
local function before(a, b)
    local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
    local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
    if #ams ~= #bms then
        return #ams < #bms
    end
    if ams ~= bms then
        return ams < bms
    end
    return tonumber(aseq) < tonumber(bseq)
end

local floor = nil
for _, group in ipairs(groups()) do
    local needs
    if group['pending'] > 0 then
        needs = redis.call('XPENDING', KEYS[1], group['name'])[2]
    else
        local ms, seq = string.match(group['last-delivered-id'], '^(%d+)-(%d+)$')
        needs = ms .. '-' .. string.format('%d', tonumber(seq) + 1)
    end
    if floor == nil or before(needs, floor) then
        floor = needs
    end
end
if floor == nil then
    return 0
end
return redis.call('XTRIM', KEYS[1], 'MINID', floor)
"
);
