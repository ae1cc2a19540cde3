#version 450
// add.comp - x += o elementwise (GA_OP_RESIDUAL_ADD, after the optional post norm of o).
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer O { float o[]; };
layout(std430, binding = 1) buffer X { float x[]; };
layout(push_constant) uniform Args { uint n; } p;

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_NumWorkGroups.x * WG * gl_GlobalInvocationID.y;
    if (i < p.n) x[i] += o[i];
}
