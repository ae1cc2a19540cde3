#version 450
// glu.comp - g = act(g) * u elementwise (GA_OP_GLU): GELU-tanh (Gemma) or SiLU (llama).
#include "common.glsl"
layout(local_size_x = WG) in;
layout(std430, binding = 0) readonly buffer Up { float u[]; };
layout(std430, binding = 1) buffer Gate { float g[]; };
layout(push_constant) uniform Args { uint n, gelu; } p;

void main() {
    const uint i = gl_GlobalInvocationID.x + gl_NumWorkGroups.x * WG * gl_GlobalInvocationID.y;
    if (i >= p.n) return;
    const float x = g[i];
    float a;
    if (p.gelu != 0) {
        const float c = 0.7978845608028654;  // sqrt(2 / pi)
        // tanh saturates to +-1 in float beyond 15: clamped, no inf / inf
        a = 0.5 * x * (1.0 + tanh(clamp(c * (x + 0.044715 * x * x * x), -15.0, 15.0)));
    } else {
        a = x / (1.0 + exp(-x));
    }
    g[i] = a * u[i];
}
