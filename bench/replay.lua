-- wrk script: replays pre-signed webhook deliveries, optionally paced, and prints one summary line.
--
-- Environment (read once per wrk thread):
--   BENCH_DELIVERIES  file made by bench/wrk_replay.py: one delivery a line,
--                     "<webhook-id>\t<webhook-timestamp>\t<webhook-signature>\t<raw JSON body>"
--   BENCH_THREADS     wrk's -t, so each thread knows its share of the file
--   BENCH_RATE        optional, deliveries per second for the whole run, shared evenly by the threads.
--                     Unset or 0: every connection sends its next request as soon as its answer arrives.
--
-- Each thread replays its own share of the file (line i goes to thread i mod threads), so every request has a
-- webhook-id of its own. When a thread runs out of lines it starts its share again and counts "exhausted"
-- (the repeats are duplicates to the receiver: the harness sizes the file so that this stays 0).
--
-- Pacing (closed loop on a schedule): wrk calls delay() before each request of a connection, after the
-- previous answer on it. A thread keeps one schedule, one slot every threads/BENCH_RATE seconds, and each
-- request takes the next slot: it waits until then, or goes at once when the slot is already past (counted
-- as "late"). So the offered rate holds while a connection is free at each slot; at most `connections`
-- requests are in flight, and a slow receiver lowers what is sent (the summary's requests/duration).
--
-- done() prints one line to stdout: "BENCH_SUMMARY {json}" with requests, duration_us, the socket errors,
-- latency percentiles in microseconds (wrk's own histogram: time from writing a request to its answer,
-- timeouts excluded), the answers by status, non2xx, retry_after (503 answers that carried Retry-After),
-- late, exhausted and sent (requests written, answered or not).

local threads = {}

function setup(thread)
   thread:set("thread_index", #threads)
   table.insert(threads, thread)
end

-- per-thread state (each wrk thread has its own Lua state) ---------------------------------------------------

local requests = {}
local cursor = 1
statuses = {}           -- answers by status code (globals: done() reads them with thread:get)
non2xx = 0
retry_after = 0
late = 0
exhausted = 0
sent = 0
local interval_ms = 0
local next_slot = nil
local now_ms = nil

function init(args)
   local path = os.getenv("BENCH_DELIVERIES")
   if not path then error("BENCH_DELIVERIES is not set: the file of pre-signed deliveries") end
   local share = tonumber(os.getenv("BENCH_THREADS") or "1")
   local index = 0
   for line in io.lines(path) do
      if index % share == thread_index then
         local id, stamp, signature, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
         if not id then error("bad line " .. (index + 1) .. " in " .. path) end
         requests[#requests + 1] = wrk.format("POST", nil, {
            ["content-type"] = "application/json",
            ["webhook-id"] = id,
            ["webhook-timestamp"] = stamp,
            ["webhook-signature"] = signature,
         }, body)
      end
      index = index + 1
   end
   if #requests == 0 then error("no deliveries for thread " .. thread_index .. " in " .. path) end
   local rate = tonumber(os.getenv("BENCH_RATE") or "0")
   if rate > 0 then
      interval_ms = 1000.0 * share / rate
      local ffi = require("ffi")
      ffi.cdef([[
         typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
         int clock_gettime(int clock_id, bench_timespec *tp);
      ]])
      local spec = ffi.new("bench_timespec")
      now_ms = function()
         ffi.C.clock_gettime(1, spec) -- CLOCK_MONOTONIC
         return tonumber(spec.tv_sec) * 1000.0 + tonumber(spec.tv_nsec) / 1e6
      end
   end
end

function request()
   if cursor > #requests then
      cursor = 1
      exhausted = exhausted + 1
   end
   local r = requests[cursor]
   cursor = cursor + 1
   sent = sent + 1
   return r
end

if tonumber(os.getenv("BENCH_RATE") or "0") > 0 then
   -- defined only when pacing: wrk schedules a timer for every request of a script that has delay()
   function delay()
      local now = now_ms()
      next_slot = (next_slot or now) + interval_ms
      local wait = next_slot - now
      if wait < 0 then
         late = late + 1
         return 0
      end
      return math.floor(wait + 0.5)
   end
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      if status == 503 and (headers["Retry-After"] or headers["retry-after"]) then
         retry_after = retry_after + 1
      end
   end
end

-- the summary ----------------------------------------------------------------------------------------------

function done(summary, latency, total)
   local statuses = {}
   local sums = { non2xx = 0, retry_after = 0, late = 0, exhausted = 0, sent = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(sums) do sums[name] = sums[name] + (thread:get(name) or 0) end
      for code, n in pairs(thread:get("statuses") or {}) do
         statuses[code] = (statuses[code] or 0) + n
      end
   end
   local parts = {}
   for code, n in pairs(statuses) do parts[#parts + 1] = string.format('"%s": %d', code, n) end
   local e = summary.errors
   io.write(string.format(
      'BENCH_SUMMARY {"requests": %d, "duration_us": %d, "bytes": %d, '
         .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
         .. '"latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d, "max": %d}, '
         .. '"statuses": {%s}, "non2xx": %d, "retry_after": %d, "late": %d, "exhausted": %d, "sent": %d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max,
      table.concat(parts, ", "), sums.non2xx, sums.retry_after, sums.late, sums.exhausted, sums.sent
   ))
end
