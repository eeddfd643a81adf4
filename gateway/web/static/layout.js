// The console's grid: 1, 4, 9 or 16 tiles, the camera list beside it (click a camera to
// show it in the selected tile, or drag it onto one), and both remembered across reloads
// (localStorage). Only cameras in a tile are played: the others cost nothing.

import { button, element } from "./api.js";
import { Tile } from "./tile.js";

export const LAYOUTS = [1, 4, 9, 16];
const STORE = "wepgw.console";
const DRAG_TYPE = "application/x-wepgw-camera";

export class Console {
  /**
   * cameras: as listed; grid, list, layouts: the page's elements; template: the tile's;
   * players: the array the page exposes (kept to the players in view, in tile order);
   * mode, quality: the page's ?mode= and ?quality=; onChange(): a tile changed.
   */
  constructor({ cameras, grid, list, layouts, template, players, mode, quality, onChange }) {
    this.cameras = new Map(cameras.map((camera) => [camera.id, camera]));
    this.order = cameras.map((camera) => camera.id);
    this.grid = grid;
    this.list = list;
    this.layouts = layouts;
    this.template = template;
    this.players = players;
    this.mode = mode;
    this.quality = quality;
    this.onChange = onChange;
    this.tiles = new Map(); // camera id -> Tile
    this.listed = new Map(); // camera id -> its button in the camera list
    const saved = this.restore();
    this.layout = saved.layout;
    this.slots = saved.slots;
    this.selected = Math.max(0, this.slots.indexOf(null));
  }

  start() {
    this.buildLayoutButtons();
    this.buildList();
    this.listenGrid();
    this.render();
  }

  // ---- remembered across reloads --------------------------------------------------------

  restore() {
    let saved = null;
    try {
      saved = JSON.parse(localStorage.getItem(STORE) || "null");
    } catch {
      saved = null; // unreadable, or storage refused: the default
    }
    if (saved && LAYOUTS.includes(saved.layout) && Array.isArray(saved.slots)) {
      const seen = new Set();
      const slots = Array.from({ length: saved.layout }, (_, i) => {
        const id = saved.slots[i];
        if (typeof id !== "string" || !this.cameras.has(id) || seen.has(id)) return null;
        seen.add(id);
        return id;
      });
      return { layout: saved.layout, slots };
    }
    // The first visit: the smallest layout that shows every camera (at most 16).
    const layout = LAYOUTS.find((n) => n >= this.order.length) || LAYOUTS[LAYOUTS.length - 1];
    return { layout, slots: Array.from({ length: layout }, (_, i) => this.order[i] || null) };
  }

  save() {
    try {
      localStorage.setItem(STORE, JSON.stringify({ layout: this.layout, slots: this.slots }));
    } catch {
      // storage refused (privacy mode): the layout lasts as long as the page
    }
  }

  // ---- the operator's choices ---------------------------------------------------------------

  setLayout(layout) {
    if (!LAYOUTS.includes(layout) || layout === this.layout) return;
    let slots = this.slots.slice(0, layout);
    if (layout < this.layout && this.selected >= layout && this.slots[this.selected]) {
      slots[0] = this.slots[this.selected]; // fewer tiles: the selected camera stays in view
    }
    while (slots.length < layout) slots.push(null);
    // More tiles: the cameras not in view yet fill them, in the list's order.
    const hidden = this.order.filter((id) => !slots.includes(id));
    slots = slots.map((id) => id || hidden.shift() || null);
    this.layout = layout;
    this.slots = slots;
    this.selected = Math.min(this.selected, layout - 1);
    this.render();
  }

  /** Shows a camera in a tile; one already in another tile swaps places with this one's. */
  assign(slot, cameraId) {
    if (!this.cameras.has(cameraId) || slot < 0 || slot >= this.layout) return;
    const from = this.slots.indexOf(cameraId);
    if (from === slot) return;
    if (from >= 0) this.slots[from] = this.slots[slot];
    this.slots[slot] = cameraId;
    this.render();
  }

  empty(slot) {
    this.slots[slot] = null;
    this.selected = slot;
    this.render();
  }

  /** The tile showing a camera, putting it in the selected tile first if it is not in view. */
  tileFor(cameraId) {
    if (!this.slots.includes(cameraId)) this.assign(this.selected, cameraId);
    return this.tiles.get(cameraId) || null;
  }

  select(slot) {
    this.selected = slot;
    for (const cell of this.grid.children) cell.classList.toggle("selected", Number(cell.dataset.slot) === slot);
  }

  // ---- drawing --------------------------------------------------------------------------

  qualityFor(camera) {
    if (this.quality) return this.quality;
    // Many tiles at once: the low stream keeps phones and busy grids smooth.
    return this.layout > 4 && camera.qualities.includes("low") ? "low" : camera.qualities[0];
  }

  render() {
    const shown = new Set(this.slots.filter(Boolean));
    for (const [id, tile] of this.tiles) {
      if (!shown.has(id)) {
        tile.close();
        this.tiles.delete(id);
      }
    }
    const cells = this.slots.map((id, slot) => {
      const cell = id ? this.tileOf(id).element : this.placeholder(slot);
      cell.dataset.slot = String(slot);
      cell.classList.toggle("selected", slot === this.selected);
      return cell;
    });
    // Moved only when out of place: a moved tile keeps playing, but loses the focus.
    cells.forEach((cell, index) => {
      if (this.grid.children[index] !== cell) this.grid.insertBefore(cell, this.grid.children[index] || null);
    });
    while (this.grid.children.length > cells.length) this.grid.lastElementChild.remove();
    this.grid.dataset.layout = String(this.layout);
    this.players.splice(0, this.players.length, ...this.slots.filter(Boolean).map((id) => this.tiles.get(id).player));
    for (const [id, entry] of this.listed) entry.classList.toggle("shown", shown.has(id));
    for (const control of this.layouts.querySelectorAll("button")) {
      control.setAttribute("aria-pressed", String(Number(control.dataset.layout) === this.layout));
    }
    this.save();
    this.onChange();
  }

  tileOf(id) {
    let tile = this.tiles.get(id);
    const camera = this.cameras.get(id);
    if (tile) {
      tile.player.setQuality(this.qualityFor(camera));
      return tile;
    }
    tile = new Tile(camera, this.template, {
      quality: this.qualityFor(camera),
      mode: this.mode,
      onChange: () => this.onChange(),
      onRemove: (removed) => this.empty(this.slots.indexOf(removed.camera.id)),
    });
    this.tiles.set(id, tile);
    tile.start();
    return tile;
  }

  placeholder(slot) {
    const cell = element("div", "slot-empty");
    cell.tabIndex = 0;
    cell.setAttribute("role", "group");
    cell.setAttribute("aria-label", `Empty tile ${slot + 1}`);
    cell.append(element("p", "", "Pick a camera from the list, or drag one here"));
    return cell;
  }

  buildLayoutButtons() {
    for (const layout of LAYOUTS) {
      const side = Math.sqrt(layout);
      const text = layout === 1 ? "1" : `${side}×${side}`;
      const control = button("layout-choice", text, layout === 1 ? "1 tile" : `${text}, ${layout} tiles`);
      control.dataset.layout = String(layout);
      control.addEventListener("click", () => this.setLayout(layout));
      this.layouts.append(control);
    }
  }

  buildList() {
    const items = this.order.map((id) => {
      const camera = this.cameras.get(id);
      const name = camera.name || camera.id;
      const item = element("li");
      const entry = button("camera", undefined);
      entry.dataset.camera = id;
      entry.draggable = true;
      entry.title = `Show ${name} in the selected tile (or drag it onto a tile)`;
      entry.append(element("span", "camera-name", name));
      if (camera.ptz) entry.append(element("span", "camera-tag", "PTZ"));
      if (camera.available === false) entry.append(element("span", "camera-tag off", "offline"));
      entry.addEventListener("click", () => this.pick(id));
      entry.addEventListener("dragstart", (event) => {
        event.dataTransfer.setData(DRAG_TYPE, id);
        event.dataTransfer.setData("text/plain", name);
        event.dataTransfer.effectAllowed = "copyMove";
      });
      this.listed.set(id, entry);
      item.append(entry);
      return item;
    });
    this.list.replaceChildren(...items);
  }

  /** The camera list's click: the camera goes to the selected tile, and the selection moves
   *  on to the next empty tile, so clicking cameras one after another fills the grid. */
  pick(cameraId) {
    const slot = this.selected;
    this.assign(slot, cameraId);
    const next = this.slots.indexOf(null);
    this.select(next >= 0 ? next : slot);
  }

  listenGrid() {
    const slotOf = (target) => {
      const cell = target.closest && target.closest("[data-slot]");
      return cell && cell.parentElement === this.grid ? Number(cell.dataset.slot) : -1;
    };
    this.grid.addEventListener("pointerdown", (event) => {
      const slot = slotOf(event.target);
      if (slot >= 0) this.select(slot);
    });
    this.grid.addEventListener("focusin", (event) => {
      const slot = slotOf(event.target);
      if (slot >= 0) this.select(slot);
    });
    // A tile's name drags its camera to another tile (the two swap).
    this.grid.addEventListener("dragstart", (event) => {
      const cell = event.target.closest && event.target.closest(".tile");
      if (!cell || !event.target.classList.contains("name")) return;
      event.dataTransfer.setData(DRAG_TYPE, cell.dataset.camera);
      event.dataTransfer.effectAllowed = "move";
    });
    this.grid.addEventListener("dragover", (event) => {
      if (!event.dataTransfer.types.includes(DRAG_TYPE) || slotOf(event.target) < 0) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
      for (const cell of this.grid.children) cell.classList.toggle("drop", cell.contains(event.target));
    });
    this.grid.addEventListener("dragleave", (event) => {
      if (!this.grid.contains(event.relatedTarget)) for (const cell of this.grid.children) cell.classList.remove("drop");
    });
    this.grid.addEventListener("drop", (event) => {
      for (const cell of this.grid.children) cell.classList.remove("drop");
      const slot = slotOf(event.target);
      const id = event.dataTransfer.getData(DRAG_TYPE);
      if (slot < 0 || !id) return;
      event.preventDefault();
      this.select(slot);
      this.assign(slot, id);
    });
  }

  /** Every tile lets go of its camera: the page is closing. */
  goodbye() {
    for (const tile of this.tiles.values()) tile.goodbye();
  }
}
