// ---- render.js: draw the points with WebGL, or with a 2-D canvas where WebGL is unavailable.
const VS = `
attribute vec2 a_pos; attribute vec4 a_col; attribute float a_sel;
uniform vec2 u_center; uniform vec2 u_scale; uniform float u_size; uniform float u_dim;
varying vec4 v_col; varying float v_round;
void main() {
  v_round = u_size > 3.0 ? 1.0 : 0.0;
  vec2 p = (a_pos - u_center) * u_scale;
  gl_Position = vec4(p, 0.0, 1.0);
  gl_PointSize = a_sel > 0.5 ? u_size : max(1.0, u_size * 0.8);
  v_col = a_sel > 0.5 ? vec4(a_col.rgb, 0.78) : vec4(mix(a_col.rgb, vec3(0.8), 0.7), u_dim);
}`;
const FS = `
precision mediump float;
varying vec4 v_col; varying float v_round;
void main() {
  float a = v_col.a;
  if (v_round > 0.5) { vec2 c = gl_PointCoord - 0.5; float r = length(c); if (r > 0.5) discard; a *= smoothstep(0.5, 0.38, r); }
  gl_FragColor = vec4(v_col.rgb, a);
}`;
const BG = [247, 248, 250];

function pointSize(S) {
  const base = Math.max(1.5, Math.min(7, 0.55 * Math.sqrt((S.W * S.H) / Math.max(S.n, 1))));
  return Math.min(14, base * Math.pow(S.view.scale / S.scale0, 0.35));
}

function compile(gl, type, src) {
  const sh = gl.createShader(type);
  gl.shaderSource(sh, src);
  gl.compileShader(sh);
  if (!gl.getShaderParameter(sh, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(sh));
  return sh;
}

function glRenderer(gl, S) {
  const prog = gl.createProgram();
  gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VS));
  gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FS));
  gl.linkProgram(prog);
  if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
  gl.useProgram(prog);
  const attr = (name, data, size, type, norm) => {
    const buf = gl.createBuffer(), loc = gl.getAttribLocation(prog, name);
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, size, type, norm, 0, 0);
    return buf;
  };
  attr("a_pos", S.xy, 2, gl.FLOAT, false);
  attr("a_col", S.color, 4, gl.UNSIGNED_BYTE, true);
  const selBuf = attr("a_sel", new Uint8Array(S.n).fill(255), 1, gl.UNSIGNED_BYTE, true);
  const u = (name) => gl.getUniformLocation(prog, name);
  const uc = u("u_center"), us = u("u_scale"), usz = u("u_size"), ud = u("u_dim");
  gl.enable(gl.BLEND);
  gl.blendFunc(gl.SRC_ALPHA, gl.ONE_MINUS_SRC_ALPHA);
  return {
    kind: "webgl",
    draw() {
      const c = gl.canvas;
      gl.viewport(0, 0, c.width, c.height);
      gl.clearColor(BG[0] / 255, BG[1] / 255, BG[2] / 255, 1);
      gl.clear(gl.COLOR_BUFFER_BIT);
      gl.uniform2f(uc, S.view.cx, S.view.cy);
      gl.uniform2f(us, (2 * S.view.scale) / S.W, (2 * S.view.scale) / S.H);
      gl.uniform1f(usz, pointSize(S) * (window.devicePixelRatio || 1));
      gl.uniform1f(ud, S.sel ? 0.25 : 1);
      gl.drawArrays(gl.POINTS, 0, S.n);
    },
    setMask(mask) {
      gl.bindBuffer(gl.ARRAY_BUFFER, selBuf);
      gl.bufferSubData(gl.ARRAY_BUFFER, 0, mask);
    },
  };
}

function canvasRenderer(ctx, S) {
  const order = Array.from({ length: S.n }, (_, i) => i).sort((a, b) => S.lab[S.L][a] - S.lab[S.L][b]);
  let mask = null;
  return {
    kind: "canvas2d",
    draw() {
      const dpr = window.devicePixelRatio || 1, sz = pointSize(S) * dpr, v = S.view;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = `rgb(${BG.join(",")})`;
      ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
      let cur = -1;
      for (const i of order) {
        const x = ((S.xy[2 * i] - v.cx) * v.scale + S.W / 2) * dpr, y = (S.H / 2 - (S.xy[2 * i + 1] - v.cy) * v.scale) * dpr;
        if (x < -sz || y < -sz || x > ctx.canvas.width + sz || y > ctx.canvas.height + sz) continue;
        const on = !mask || mask[i], key = S.lab[S.L][i] * 2 + (on ? 1 : 0);
        if (key !== cur) {
          const c = S.rgb[S.lab[S.L][i] % S.rgb.length];
          ctx.fillStyle = on ? `rgba(${c.join(",")},0.78)` : "rgba(200,200,200,0.25)";
          cur = key;
        }
        ctx.fillRect(x - sz / 2, y - sz / 2, sz, sz);
      }
    },
    setMask(m) {
      mask = S.sel ? m : null;
    },
  };
}

function createRenderer(canvas, S) {
  let gl = null;
  try {
    gl = canvas.getContext("webgl", { antialias: false, preserveDrawingBuffer: true, alpha: false });
  } catch (e) {
    gl = null;
  }
  if (gl) {
    try {
      return glRenderer(gl, S);
    } catch (e) {
      console.warn("WebGL failed, drawing with canvas 2D:", e);
      const fresh = canvas.cloneNode(false); // a canvas keeps its first context type: start over
      canvas.replaceWith(fresh);
      canvas = fresh;
    }
  }
  return canvasRenderer(canvas.getContext("2d"), S);
}
