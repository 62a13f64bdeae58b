/*
 * A fake libnvidia-ml for tests and benchmarks on hosts without a GPU. It exports the NVML entry points the
 * governor's NvmlSensorSource calls, with NVML's own signatures, and a control API (fake_nvml_*) that specs call
 * through the same NativeLibrary handle to script devices, errors and XID events.
 *
 * Built with -DFAKE_NVML_NO_MEMORY_V2 it omits nvmlDeviceGetMemoryInfo_v2, as a driver older than r510 does.
 * State is global to the loaded library: specs call fake_nvml_reset() first. Scripting is not thread-safe (specs script
 * while nothing samples); call counters are atomic and a delayed call may block on the sampling thread while the spec's
 * thread reads them, releases the delay or samples other sources.
 *
 * Every entry point can be scripted per device (fake_nvml_script): answer a return code always or for its next N
 * calls, and block for a while or until fake_nvml_release_delays() (fake_nvml_set_delay), as a sick GPU does.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_TIMEOUT 10
#define NVML_ERROR_ARGUMENT_VERSION_MISMATCH 25

#define EVENT_XID_CRITICAL 0x8ULL
#define MAX_DEVICES 64
#define MAX_EVENTS 256

/* The scriptable entry points. A device query is scripted per device; the others use the GLOBAL slot. */
enum fake_fn {
    FN_INIT, FN_DEVICE_COUNT, FN_HANDLE_BY_INDEX, FN_UUID, FN_NAME, FN_UTILIZATION, FN_MEMORY, FN_MEMORY_V2, FN_POWER,
    FN_POWER_LIMIT, FN_TEMPERATURE, FN_CLOCK_REASONS, FN_EVENT_SET_CREATE, FN_REGISTER_EVENTS, FN_EVENT_SET_WAIT,
    FN_COUNT
};
static const char *const fn_names[FN_COUNT] = {
    "nvmlInit_v2", "nvmlDeviceGetCount_v2", "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetUUID", "nvmlDeviceGetName",
    "nvmlDeviceGetUtilizationRates", "nvmlDeviceGetMemoryInfo", "nvmlDeviceGetMemoryInfo_v2", "nvmlDeviceGetPowerUsage",
    "nvmlDeviceGetEnforcedPowerLimit", "nvmlDeviceGetTemperature", "nvmlDeviceGetCurrentClocksEventReasons",
    "nvmlEventSetCreate", "nvmlDeviceRegisterEvents", "nvmlEventSetWait_v2",
};
#define GLOBAL MAX_DEVICES
#define ALWAYS (-1)

struct fake_script {
    int rc;        /* returned while times != 0 */
    int times;     /* ALWAYS, or how many more calls return rc */
    int delay_ms;  /* 0: none; > 0: block that long; < 0: block until fake_nvml_release_delays() */
    int delay_times; /* ALWAYS, or how many more calls block */
};

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } nvmlMemory_v2_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct fake_device *nvmlDevice_t;
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType;
    unsigned long long eventData;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlEventData_t;

struct fake_device {
    int index;
    int fail_rc;               /* every query of this device returns it while non-zero */
    unsigned int util_gpu, util_mem;
    unsigned long long mem_total, mem_used, mem_reserved;
    unsigned int power_mw, limit_mw;
    unsigned int temp_c;
    unsigned long long reasons;
    int events_rc;             /* what nvmlDeviceRegisterEvents returns */
    int registered;
};

struct fake_event_set { int live; };

static struct fake_device devices[MAX_DEVICES];
static unsigned int device_count;
static int init_result;
static int init_refs;
static int memory_v2_rc;       /* non-zero: nvmlDeviceGetMemoryInfo_v2 returns it */
static int memory_v2_calls, memory_v1_calls;
static struct fake_event_set event_set;
static int event_wait_fail_rc; /* next nvmlEventSetWait_v2 returns it once */
static struct { int device; unsigned long long xid; } events[MAX_EVENTS];
static int event_head, event_tail;
static struct fake_script scripts[FN_COUNT][MAX_DEVICES + 1];
static int calls[FN_COUNT][MAX_DEVICES + 1];
static int release_generation;

static int fn_index(const char *name)
{
    for (int f = 0; f < FN_COUNT; f++)
        if (name && strcmp(name, fn_names[f]) == 0) return f;
    return -1;
}

static long long monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Counts the call, blocks as scripted, and answers the scripted code (NVML_SUCCESS: carry on). */
static int scripted(int fn, int slot)
{
    __atomic_fetch_add(&calls[fn][slot], 1, __ATOMIC_SEQ_CST);
    struct fake_script *s = &scripts[fn][slot];
    int delay = s->delay_times == 0 ? 0 : s->delay_ms;
    if (delay != 0 && s->delay_times > 0) s->delay_times--;
    if (delay != 0) {
        int generation = __atomic_load_n(&release_generation, __ATOMIC_SEQ_CST);
        long long until = monotonic_ms() + delay;
        struct timespec tick = { 0, 1000000L };
        while ((delay < 0 || monotonic_ms() < until)
               && __atomic_load_n(&release_generation, __ATOMIC_SEQ_CST) == generation)
            nanosleep(&tick, NULL);
    }
    if (s->times == 0) return NVML_SUCCESS;
    if (s->times > 0) s->times--;
    return s->rc;
}

static void default_device(int i)
{
    struct fake_device *d = &devices[i];
    memset(d, 0, sizeof *d);
    d->index = i;
    d->util_gpu = 10;
    d->util_mem = 5;
    d->mem_total = 80ULL << 30;
    d->mem_used = 8ULL << 30;
    d->mem_reserved = 512ULL << 20;
    d->power_mw = 100000;
    d->limit_mw = 400000;
    d->temp_c = 40;
    d->reasons = 0;
}

EXPORT void fake_nvml_reset(void)
{
    for (int i = 0; i < MAX_DEVICES; i++) default_device(i);
    device_count = 1;
    init_result = NVML_SUCCESS;
    init_refs = 0;
    memory_v2_rc = NVML_SUCCESS;
    memory_v2_calls = memory_v1_calls = 0;
    event_set.live = 0;
    event_wait_fail_rc = NVML_SUCCESS;
    event_head = event_tail = 0;
    memset(scripts, 0, sizeof scripts);
    memset(calls, 0, sizeof calls);
    __atomic_fetch_add(&release_generation, 1, __ATOMIC_SEQ_CST); /* a call still blocked from a previous spec returns */
}

__attribute__((constructor)) static void fake_nvml_load(void) { fake_nvml_reset(); }

static struct fake_device *dev_at(int i) { return (i >= 0 && i < MAX_DEVICES) ? &devices[i] : NULL; }

EXPORT void fake_nvml_set_device_count(unsigned int n) { device_count = n > MAX_DEVICES ? MAX_DEVICES : n; }
EXPORT void fake_nvml_set_init_result(int rc) { init_result = rc; }
EXPORT int fake_nvml_init_refs(void) { return init_refs; }
EXPORT void fake_nvml_fail_device(int i, int rc) { if (dev_at(i)) devices[i].fail_rc = rc; }
EXPORT void fake_nvml_set_utilization(int i, unsigned int gpu, unsigned int mem)
{
    if (dev_at(i)) { devices[i].util_gpu = gpu; devices[i].util_mem = mem; }
}
EXPORT void fake_nvml_set_memory(int i, unsigned long long total, unsigned long long used)
{
    if (dev_at(i)) { devices[i].mem_total = total; devices[i].mem_used = used; }
}
EXPORT void fake_nvml_set_power(int i, unsigned int usage_mw, unsigned int limit_mw)
{
    if (dev_at(i)) { devices[i].power_mw = usage_mw; devices[i].limit_mw = limit_mw; }
}
EXPORT void fake_nvml_set_temperature(int i, unsigned int celsius) { if (dev_at(i)) devices[i].temp_c = celsius; }
EXPORT void fake_nvml_set_throttle_reasons(int i, unsigned long long mask) { if (dev_at(i)) devices[i].reasons = mask; }
EXPORT void fake_nvml_set_events_result(int i, int rc) { if (dev_at(i)) devices[i].events_rc = rc; }
EXPORT void fake_nvml_set_memory_v2_result(int rc) { memory_v2_rc = rc; }
EXPORT int fake_nvml_memory_v2_calls(void) { return memory_v2_calls; }
EXPORT int fake_nvml_memory_v1_calls(void) { return memory_v1_calls; }
EXPORT void fake_nvml_fail_next_event_wait(int rc) { event_wait_fail_rc = rc; }
EXPORT int fake_nvml_event_set_live(void) { return event_set.live; }
EXPORT void fake_nvml_push_xid(int i, unsigned long long xid)
{
    int next = (event_tail + 1) % MAX_EVENTS;
    if (next == event_head || !dev_at(i)) return;
    events[event_tail].device = i;
    events[event_tail].xid = xid;
    event_tail = next;
}

/* Scripts `function` for `device` (-1: every device, and the global entry points): answer `rc` for the next `times`
 * calls (-1: always; rc 0 clears). Returns 0, or -1 for a name the fake does not export. */
EXPORT int fake_nvml_script(const char *function, int device, int rc, int times)
{
    int f = fn_index(function);
    if (f < 0 || device < -1 || device >= MAX_DEVICES) return -1;
    for (int slot = 0; slot <= MAX_DEVICES; slot++) {
        if (device >= 0 && slot != device) continue;
        scripts[f][slot].rc = rc;
        scripts[f][slot].times = rc == NVML_SUCCESS ? 0 : times;
    }
    return 0;
}

/* Makes the next `times` calls (-1: every call) of `function` on `device` (-1: all) block `ms` milliseconds first
 * (< 0: until released; 0: none). */
EXPORT int fake_nvml_set_delay(const char *function, int device, int ms, int times)
{
    int f = fn_index(function);
    if (f < 0 || device < -1 || device >= MAX_DEVICES) return -1;
    for (int slot = 0; slot <= MAX_DEVICES; slot++) {
        if (device >= 0 && slot != device) continue;
        scripts[f][slot].delay_ms = ms;
        scripts[f][slot].delay_times = ms == 0 ? 0 : times;
    }
    return 0;
}

/* Returns every call blocked in a delay now, and clears the delays. */
EXPORT void fake_nvml_release_delays(void)
{
    for (int f = 0; f < FN_COUNT; f++)
        for (int slot = 0; slot <= MAX_DEVICES; slot++) scripts[f][slot].delay_ms = scripts[f][slot].delay_times = 0;
    __atomic_fetch_add(&release_generation, 1, __ATOMIC_SEQ_CST);
}

/* How often `function` was called on `device` (-1: in all) since the last reset; -1 for an unknown name. */
EXPORT int fake_nvml_calls(const char *function, int device)
{
    int f = fn_index(function);
    if (f < 0 || device < -1 || device >= MAX_DEVICES) return -1;
    int n = 0;
    for (int slot = 0; slot <= MAX_DEVICES; slot++)
        if (device < 0 || slot == device) n += __atomic_load_n(&calls[f][slot], __ATOMIC_SEQ_CST);
    return n;
}

/* ---- NVML entry points ---- */

EXPORT int nvmlInit_v2(void)
{
    int rc = scripted(FN_INIT, GLOBAL);
    if (rc != NVML_SUCCESS) return rc;
    if (init_result != NVML_SUCCESS) return init_result;
    init_refs++;
    return NVML_SUCCESS;
}

EXPORT int nvmlShutdown(void)
{
    if (init_refs == 0) return NVML_ERROR_UNINITIALIZED;
    init_refs--;
    return NVML_SUCCESS;
}

EXPORT const char *nvmlErrorString(int rc)
{
    static char text[32];
    snprintf(text, sizeof text, "fake error %d", rc);
    return text;
}

EXPORT int nvmlDeviceGetCount_v2(unsigned int *count)
{
    int rc = scripted(FN_DEVICE_COUNT, GLOBAL);
    if (rc != NVML_SUCCESS) return rc;
    if (init_refs == 0) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = device_count;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    int rc = scripted(FN_HANDLE_BY_INDEX, index < MAX_DEVICES ? (int)index : GLOBAL);
    if (rc != NVML_SUCCESS) return rc;
    if (init_refs == 0) return NVML_ERROR_UNINITIALIZED;
    if (index >= device_count || !device) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &devices[index];
    return NVML_SUCCESS;
}

/* Common checks of a device query: library initialised, handle valid, device not failing, the call's own script. */
#define CHECK_DEVICE(d, fn)                                                          \
    do {                                                                             \
        if (init_refs == 0) return NVML_ERROR_UNINITIALIZED;                         \
        if (!(d) || (d) < devices || (d) >= devices + device_count)                  \
            return NVML_ERROR_INVALID_ARGUMENT;                                      \
        int scripted_rc = scripted((fn), (d)->index);                                \
        if (scripted_rc != NVML_SUCCESS) return scripted_rc;                         \
        if ((d)->fail_rc != NVML_SUCCESS) return (d)->fail_rc;                       \
    } while (0)

EXPORT int nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int length)
{
    CHECK_DEVICE(d, FN_UUID);
    char text[96];
    int n = snprintf(text, sizeof text, "GPU-fa4e0000-0000-4000-8000-%012d", d->index);
    if (!uuid || length < (unsigned int)n + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(uuid, text, (size_t)n + 1);
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int length)
{
    CHECK_DEVICE(d, FN_NAME);
    const char *text = "Fake NVIDIA H100 80GB HBM3";
    size_t n = strlen(text);
    if (!name || length < n + 1) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(name, text, n + 1);
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    CHECK_DEVICE(d, FN_UTILIZATION);
    if (!u) return NVML_ERROR_INVALID_ARGUMENT;
    u->gpu = d->util_gpu;
    u->memory = d->util_mem;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    CHECK_DEVICE(d, FN_MEMORY);
    if (!m) return NVML_ERROR_INVALID_ARGUMENT;
    memory_v1_calls++;
    /* v1 counts the driver's reservation as used. */
    m->total = d->mem_total;
    m->used = d->mem_used + d->mem_reserved;
    m->free = d->mem_total > m->used ? d->mem_total - m->used : 0;
    return NVML_SUCCESS;
}

#ifndef FAKE_NVML_NO_MEMORY_V2
EXPORT int nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m)
{
    CHECK_DEVICE(d, FN_MEMORY_V2);
    if (!m) return NVML_ERROR_INVALID_ARGUMENT;
    memory_v2_calls++;
    if (memory_v2_rc != NVML_SUCCESS) return memory_v2_rc;
    if (m->version != (unsigned int)(sizeof(nvmlMemory_v2_t) | (2u << 24))) return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    m->total = d->mem_total;
    m->reserved = d->mem_reserved;
    m->used = d->mem_used;
    m->free = d->mem_total > d->mem_used + d->mem_reserved ? d->mem_total - d->mem_used - d->mem_reserved : 0;
    return NVML_SUCCESS;
}
#endif

EXPORT int nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
    CHECK_DEVICE(d, FN_POWER);
    if (!mw) return NVML_ERROR_INVALID_ARGUMENT;
    *mw = d->power_mw;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw)
{
    CHECK_DEVICE(d, FN_POWER_LIMIT);
    if (!mw) return NVML_ERROR_INVALID_ARGUMENT;
    *mw = d->limit_mw;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *celsius)
{
    CHECK_DEVICE(d, FN_TEMPERATURE);
    if (sensor != 0 || !celsius) return NVML_ERROR_INVALID_ARGUMENT;
    *celsius = d->temp_c;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t d, unsigned long long *reasons)
{
    CHECK_DEVICE(d, FN_CLOCK_REASONS);
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    *reasons = d->reasons;
    return NVML_SUCCESS;
}

EXPORT int nvmlEventSetCreate(struct fake_event_set **set)
{
    int rc = scripted(FN_EVENT_SET_CREATE, GLOBAL);
    if (rc != NVML_SUCCESS) return rc;
    if (init_refs == 0) return NVML_ERROR_UNINITIALIZED;
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int i = 0; i < MAX_DEVICES; i++) devices[i].registered = 0;
    event_set.live = 1;
    *set = &event_set;
    return NVML_SUCCESS;
}

EXPORT int nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, struct fake_event_set *set)
{
    CHECK_DEVICE(d, FN_REGISTER_EVENTS);
    if (set != &event_set || !event_set.live) return NVML_ERROR_INVALID_ARGUMENT;
    if (d->events_rc != NVML_SUCCESS) return d->events_rc;
    if (types & EVENT_XID_CRITICAL) d->registered = 1;
    return NVML_SUCCESS;
}

EXPORT int nvmlEventSetWait_v2(struct fake_event_set *set, nvmlEventData_t *data, unsigned int timeout_ms)
{
    (void)timeout_ms; /* never blocks unless scripted to: an empty queue times out at once */
    int rc = scripted(FN_EVENT_SET_WAIT, GLOBAL);
    if (rc != NVML_SUCCESS) return rc;
    if (init_refs == 0) return NVML_ERROR_UNINITIALIZED;
    if (set != &event_set || !event_set.live || !data) return NVML_ERROR_INVALID_ARGUMENT;
    if (event_wait_fail_rc != NVML_SUCCESS) {
        int rc = event_wait_fail_rc;
        event_wait_fail_rc = NVML_SUCCESS;
        return rc;
    }
    while (event_head != event_tail) {
        int i = events[event_head].device;
        unsigned long long xid = events[event_head].xid;
        event_head = (event_head + 1) % MAX_EVENTS;
        if (!devices[i].registered) continue; /* NVML delivers only what was registered */
        memset(data, 0, sizeof *data);
        data->device = &devices[i];
        data->eventType = EVENT_XID_CRITICAL;
        data->eventData = xid;
        data->gpuInstanceId = 0xFFFFFFFFu;
        data->computeInstanceId = 0xFFFFFFFFu;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_TIMEOUT;
}

EXPORT int nvmlEventSetFree(struct fake_event_set *set)
{
    if (set != &event_set || !event_set.live) return NVML_ERROR_INVALID_ARGUMENT;
    event_set.live = 0;
    for (unsigned int i = 0; i < MAX_DEVICES; i++) devices[i].registered = 0;
    return NVML_SUCCESS;
}
