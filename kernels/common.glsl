// common.glsl - what every gemma_accel kernel shares.
// Workgroups are 64 invocations (two subgroups of 32, eight of lavapipe's 8: no kernel
// assumes a subgroup size); reductions go through shared memory.
#define WG 64

// The tree sum of part[0..WG) into part[0]; every invocation must call it.
#define WG_REDUCE_SUM(part, t)                                   \
    barrier();                                                   \
    for (uint s_ = WG / 2; s_ > 0; s_ >>= 1) {                   \
        if (t < s_) part[t] += part[t + s_];                     \
        barrier();                                               \
    }
