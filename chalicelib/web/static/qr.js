// A small QR code encoder (ISO/IEC 18004), written for this service: byte mode, error correction
// level M, versions 1 to 6 (up to 106 bytes: a receipt code, or a link carrying one), drawn as an
// SVG element, so that the pages need no third-party code and keep their strict CSP.
// KK.qr(text) -> <svg>, or null when the text is too long.
"use strict";

(function () {
  // Per version 1..6 at level M: error correction codewords per block, and the number of blocks.
  const ECC_PER_BLOCK = [0, 10, 16, 26, 18, 24, 16];
  const BLOCKS = [0, 1, 1, 1, 2, 2, 4];
  const FORMAT_M = 0; // the two format bits of level M

  // Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x^2 + 1 (0x11D).
  function gfMul(x, y) {
    let z = 0;
    for (let i = 7; i >= 0; i -= 1) {
      z = (z << 1) ^ ((z >>> 7) * 0x11d);
      z ^= ((y >>> i) & 1) * x;
    }
    return z & 0xff;
  }

  // The Reed-Solomon generator polynomial of a degree (leading 1 left out), roots 2^0..2^(degree-1).
  function generator(degree) {
    const poly = new Array(degree).fill(0);
    poly[degree - 1] = 1;
    let root = 1;
    for (let i = 0; i < degree; i += 1) {
      for (let j = 0; j < degree; j += 1) {
        poly[j] = gfMul(poly[j], root);
        if (j + 1 < degree) poly[j] ^= poly[j + 1];
      }
      root = gfMul(root, 2);
    }
    return poly;
  }

  function remainder(data, poly) {
    const out = new Array(poly.length).fill(0);
    for (const byte of data) {
      const factor = byte ^ out.shift();
      out.push(0);
      for (let i = 0; i < poly.length; i += 1) out[i] ^= gfMul(poly[i], factor);
    }
    return out;
  }

  function size(version) {
    return version * 4 + 17;
  }

  // Modules left for data and error correction once the function patterns are drawn (no version
  // information below version 7).
  function rawModules(version) {
    let n = (16 * version + 128) * version + 64;
    if (version >= 2) {
      const align = Math.floor(version / 7) + 2;
      n -= (25 * align - 10) * align - 55;
    }
    return n;
  }

  function dataCodewords(version) {
    return Math.floor(rawModules(version) / 8) - ECC_PER_BLOCK[version] * BLOCKS[version];
  }

  function alignmentCentres(version) {
    if (version === 1) return [];
    return [6, size(version) - 7]; // versions 2..6 have one alignment pattern
  }

  function utf8(text) {
    return Array.from(new TextEncoder().encode(text));
  }

  // Mode, length, data, terminator and padding, as codewords.
  function encode(bytes, version) {
    const bits = [];
    const put = (value, length) => {
      for (let i = length - 1; i >= 0; i -= 1) bits.push((value >>> i) & 1);
    };
    put(0b0100, 4);
    put(bytes.length, 8);
    for (const b of bytes) put(b, 8);
    const capacity = dataCodewords(version) * 8;
    put(0, Math.min(4, capacity - bits.length));
    put(0, (8 - (bits.length % 8)) % 8);
    const words = [];
    for (let i = 0; i < bits.length; i += 8) words.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
    for (let pad = 0xec; words.length < dataCodewords(version); pad ^= 0xec ^ 0x11) words.push(pad);
    return words;
  }

  // Split into blocks, add each block's error correction, interleave.
  function withErrorCorrection(words, version) {
    const blocks = BLOCKS[version];
    const eccLen = ECC_PER_BLOCK[version];
    const raw = Math.floor(rawModules(version) / 8);
    const shortBlocks = blocks - (raw % blocks);
    const shortLen = Math.floor(raw / blocks);
    const poly = generator(eccLen);
    const parts = [];
    for (let i = 0, k = 0; i < blocks; i += 1) {
      const data = words.slice(k, k + shortLen - eccLen + (i < shortBlocks ? 0 : 1));
      k += data.length;
      const ecc = remainder(data, poly);
      if (i < shortBlocks) data.push(null);
      parts.push(data.concat(ecc));
    }
    const out = [];
    for (let i = 0; i < parts[0].length; i += 1) {
      for (const part of parts) if (part[i] !== null) out.push(part[i]);
    }
    return out;
  }

  function matrix(version) {
    const n = size(version);
    const dark = Array.from({ length: n }, () => new Array(n).fill(false));
    const fixed = Array.from({ length: n }, () => new Array(n).fill(false));
    const set = (x, y, on) => {
      dark[y][x] = on;
      fixed[y][x] = true;
    };
    for (let i = 0; i < n; i += 1) {
      set(6, i, i % 2 === 0);
      set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [n - 4, 3], [3, n - 4]]) {
      for (let dy = -4; dy <= 4; dy += 1) {
        for (let dx = -4; dx <= 4; dx += 1) {
          const x = cx + dx;
          const y = cy + dy;
          const d = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < n && y >= 0 && y < n) set(x, y, d !== 2 && d !== 4);
        }
      }
    }
    const centres = alignmentCentres(version);
    for (const cy of centres) {
      for (const cx of centres) {
        if ((cx === 6 && cy === 6) || (cx === 6 && cy === n - 7) || (cx === n - 7 && cy === 6)) continue;
        for (let dy = -2; dy <= 2; dy += 1) {
          for (let dx = -2; dx <= 2; dx += 1) set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
        }
      }
    }
    drawFormat(set, n, 0); // reserve the format areas (drawn for real once the mask is chosen)
    return { n, dark, fixed, set };
  }

  function drawFormat(set, n, mask) {
    const data = (FORMAT_M << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i += 1) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i) => ((bits >>> i) & 1) === 1;
    for (let i = 0; i <= 5; i += 1) set(8, i, bit(i));
    set(8, 7, bit(6));
    set(8, 8, bit(7));
    set(7, 8, bit(8));
    for (let i = 9; i < 15; i += 1) set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i += 1) set(n - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i += 1) set(8, n - 15 + i, bit(i));
    set(8, n - 8, true);
  }

  // Codeword bits in the two-column zigzag, bottom-right first, skipping the timing column.
  function place(m, codewords) {
    let i = 0;
    for (let right = m.n - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let vert = 0; vert < m.n; vert += 1) {
        for (let j = 0; j < 2; j += 1) {
          const x = right - j;
          const upward = ((right + 1) & 2) === 0;
          const y = upward ? m.n - 1 - vert : vert;
          if (!m.fixed[y][x] && i < codewords.length * 8) {
            m.dark[y][x] = ((codewords[i >>> 3] >>> (7 - (i & 7))) & 1) === 1;
            i += 1;
          }
        }
      }
    }
  }

  const MASKS = [
    (x, y) => (x + y) % 2 === 0,
    (x, y) => y % 2 === 0,
    (x) => x % 3 === 0,
    (x, y) => (x + y) % 3 === 0,
    (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
    (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
    (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
    (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
  ];

  function applyMask(m, mask) {
    for (let y = 0; y < m.n; y += 1) {
      for (let x = 0; x < m.n; x += 1) if (!m.fixed[y][x] && MASKS[mask](x, y)) m.dark[y][x] = !m.dark[y][x];
    }
  }

  // The standard's penalties for runs, 2x2 blocks and imbalance (its finder-like rule left out):
  // any mask decodes; this only picks one that scanners find easier.
  function penalty(m) {
    let score = 0;
    let darkCount = 0;
    for (let a = 0; a < m.n; a += 1) {
      for (const line of [(i) => m.dark[a][i], (i) => m.dark[i][a]]) {
        let run = 1;
        for (let i = 1; i <= m.n; i += 1) {
          if (i < m.n && line(i) === line(i - 1)) {
            run += 1;
          } else {
            if (run >= 5) score += run - 2;
            run = 1;
          }
        }
      }
    }
    for (let y = 0; y < m.n; y += 1) {
      for (let x = 0; x < m.n; x += 1) {
        if (m.dark[y][x]) darkCount += 1;
        if (x + 1 < m.n && y + 1 < m.n) {
          const c = m.dark[y][x];
          if (c === m.dark[y][x + 1] && c === m.dark[y + 1][x] && c === m.dark[y + 1][x + 1]) score += 3;
        }
      }
    }
    const total = m.n * m.n;
    return score + Math.floor(Math.abs(darkCount * 20 - total * 10) / total) * 10;
  }

  // The modules of a QR code for ``text`` (true = dark), or null when it does not fit version 6.
  function modules(text) {
    const bytes = utf8(text);
    let version = 1;
    while (version <= 6 && dataCodewords(version) < bytes.length + 2) version += 1;
    if (version > 6) return null;
    const codewords = withErrorCorrection(encode(bytes, version), version);
    let best = null;
    for (let mask = 0; mask < 8; mask += 1) {
      const m = matrix(version);
      place(m, codewords);
      applyMask(m, mask);
      drawFormat(m.set, m.n, mask);
      const score = penalty(m);
      if (best === null || score < best.score) best = { score, dark: m.dark };
    }
    return best.dark;
  }

  // An SVG of the code with its 4-module quiet zone, one path of unit squares, crisp when printed.
  function qr(text, label) {
    const dark = modules(text);
    if (dark === null) return null;
    const ns = "http://www.w3.org/2000/svg";
    const n = dark.length + 8;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + n + " " + n);
    svg.setAttribute("class", "qr");
    svg.setAttribute("role", "img");
    svg.setAttribute("shape-rendering", "crispEdges");
    if (label) svg.setAttribute("aria-label", label);
    const background = document.createElementNS(ns, "rect");
    background.setAttribute("width", String(n));
    background.setAttribute("height", String(n));
    background.setAttribute("fill", "#fff");
    let d = "";
    dark.forEach((row, y) => row.forEach((on, x) => {
      if (on) d += "M" + (x + 4) + " " + (y + 4) + "h1v1h-1z";
    }));
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "#000");
    svg.append(background, path);
    return svg;
  }

  KK.qr = qr;
  KK.qrModules = modules;
})();
