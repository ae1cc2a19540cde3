#version 450
// softcap.comp - x = cap * tanh(x / cap) elementwise (GA_OP_SOFTCAP).
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(push_constant) uniform Args { uint n; float cap; } p;

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_NumWorkGroups.x * WG * gl_GlobalInvocationID.y;
    if (i < p.n) x[i] = p.cap * tanh(clamp(x[i] / p.cap, -15.0, 15.0));  // no inf / inf
}
