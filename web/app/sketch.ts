// A small drawing surface: draw with a mouse, pen or finger on a white
// canvas, then send it as a PNG. Picking a file is the keyboard's way in.
import { byId } from "./dom.js";

export function setUpSketch(send: (png: Blob) => void): void {
  const canvas = byId<HTMLCanvasElement>("sketch");
  const ctx = canvas.getContext("2d")!;
  const clear = () => {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | undefined;
  const point = (e: PointerEvent): [number, number] => {
    const box = canvas.getBoundingClientRect();
    return [((e.clientX - box.left) / box.width) * canvas.width, ((e.clientY - box.top) / box.height) * canvas.height];
  };
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = point(e);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!last) return;
    const next = point(e);
    ctx.strokeStyle = "#1d3b8b";
    ctx.lineWidth = canvas.width / 14;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...last);
    ctx.lineTo(...next);
    ctx.stroke();
    last = next;
  });
  const stop = () => (last = undefined);
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  byId("sketch-clear").addEventListener("click", clear);
  byId("sketch-send").addEventListener("click", () => canvas.toBlob((blob) => blob && send(blob), "image/png"));
}
