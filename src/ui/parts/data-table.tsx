import {
  flexRender,
  getCoreRowModel,
  getFilteredRowModel,
  getSortedRowModel,
  useReactTable,
  type ColumnDef,
  type SortingState,
} from "@tanstack/react-table";
import { useId, useState } from "react";

/** Props of DataTable. */
export interface DataTableProps<T> {
  /** The table's accessible name (its caption). */
  label: string;
  rows: readonly T[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  columns: ColumnDef<T, any>[];
  /** A stable id per row (for data-row-id, which tests and links use). */
  rowId: (row: T) => string;
  /** Shows a search box filtering every column. */
  searchable?: boolean;
  empty?: string;
}

/**
 * A sortable, searchable table (TanStack Table): headings are buttons that sort,
 * the search box filters across columns. Scrolls sideways on a narrow screen.
 */
export function DataTable<T>({ label, rows, columns, rowId, searchable, empty = "Nothing here yet." }: DataTableProps<T>) {
  const [sorting, setSorting] = useState<SortingState>([]);
  const [filter, setFilter] = useState("");
  const searchId = useId();
  const table = useReactTable({
    data: rows as T[],
    columns,
    state: { sorting, globalFilter: filter },
    onSortingChange: setSorting,
    onGlobalFilterChange: setFilter,
    getRowId: (row) => rowId(row),
    getCoreRowModel: getCoreRowModel(),
    getSortedRowModel: getSortedRowModel(),
    getFilteredRowModel: getFilteredRowModel(),
  });
  return (
    <div className="table-block">
      {searchable && (
        <div className="search">
          <label htmlFor={searchId}>Search {label.toLowerCase()}</label>
          <input id={searchId} type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </div>
      )}
      <div className="table-scroll">
        <table>
          <caption>{label}</caption>
          <thead>
            {table.getHeaderGroups().map((g) => (
              <tr key={g.id}>
                {g.headers.map((h) => {
                  const sorted = h.column.getIsSorted();
                  return (
                    <th key={h.id} scope="col" aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined}>
                      {h.column.getCanSort() ? (
                        <button type="button" className="sort" onClick={h.column.getToggleSortingHandler()}>
                          {flexRender(h.column.columnDef.header, h.getContext())}
                          {sorted === "asc" ? " ▲" : sorted === "desc" ? " ▼" : ""}
                        </button>
                      ) : (
                        flexRender(h.column.columnDef.header, h.getContext())
                      )}
                    </th>
                  );
                })}
              </tr>
            ))}
          </thead>
          <tbody>
            {table.getRowModel().rows.map((r) => (
              <tr key={r.id} data-row-id={r.id}>
                {r.getVisibleCells().map((c) => (
                  <td key={c.id} data-col={c.column.id}>{flexRender(c.column.columnDef.cell, c.getContext())}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {table.getRowModel().rows.length === 0 && <p className="empty">{empty}</p>}
      </div>
    </div>
  );
}
