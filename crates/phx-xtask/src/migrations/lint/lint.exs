# Static safety lint of Ecto migration files for `cargo xtask migrate check` (no Mix, no deps).
#
# Usage: elixir lint.exs --postgres MAJOR [--lint-after VERSION] [--advisory-lock]
#                        [--skip RULE]... FILE...
#
# Every file is parsed as Elixir (never matched line by line), each migration module's
# `change/0`, `up/0`, `down/0` and helper functions are walked in order, and one record per
# line goes to stdout, fields separated by tabs:
#
#   finding<TAB>FILE<TAB>LINE<TAB>RULE<TAB>MESSAGE
#   error<TAB>FILE<TAB>LINE<TAB>MESSAGE        (LINE is 0 when the error is about the whole file)
#   done<TAB>CHECKED<TAB>SKIPPED<TAB>ALLOWED   (always last: the Rust side treats a missing one as a crash;
#                                              ALLOWED counts the findings an allow comment silenced)
#
# Backslash, tab, CR and LF inside a field are written as \\, \t, \r and \n so that a field
# never splits a record. The exit status is 0 whenever the script ran, findings or not; it
# is non-zero only for bad arguments (2) or a crash of the script itself. The migrate session
# (session.exs) loads this file without running it and calls MigrateLint.run/1 in its own
# BEAM, its records prefixed so that they stand apart from the app's output.
#
# Rule names follow excellent_migrations (github.com/Artur-Sulej/excellent_migrations) where
# it has one, so its `# excellent_migrations:safety-assured-for-next-line RULE` and
# `...-for-this-file RULE` comments keep working; `# xtask:allow RULE` on the line itself or
# on the line(s) just above silences exactly that rule there.

defmodule MigrateLint do
  @rules ~w(
    index_not_concurrently index_concurrently_without_disable_ddl_transaction
    index_concurrently_without_disable_migration_lock many_columns_index
    column_added_with_default column_volatile_default not_null_added column_type_changed
    column_removed column_renamed table_dropped table_renamed column_reference_added
    check_constraint_added json_column_added raw_sql_executed
    operation_insert operation_update operation_delete enum_value_added_in_transaction
    allow_unknown_rule
  )

  @index_types [:index, :unique_index]
  @create_ops [:create, :create_if_not_exists]
  @drop_ops [:drop, :drop_if_exists]
  @serial_types [:serial, :bigserial, :smallserial, :identity]
  @data_ops %{
    insert: "operation_insert",
    insert!: "operation_insert",
    insert_all: "operation_insert",
    insert_or_update: "operation_insert",
    insert_or_update!: "operation_insert",
    update: "operation_update",
    update!: "operation_update",
    update_all: "operation_update",
    delete: "operation_delete",
    delete!: "operation_delete",
    delete_all: "operation_delete"
  }
  @safe_index "`concurrently: true` and set `@disable_ddl_transaction true` and `@disable_migration_lock true`"

  # ---------------------------------------------------------------------------------------
  # Command line

  # Run as a script: a bad argument is exit status 2, with the usage on stderr.
  def main(argv) do
    case run(argv) do
      :ok -> :ok
      {:error, message} -> usage_error(message)
    end
  end

  # One run over the files of `argv`, its records on stdout (each line after
  # the `:migrate_lint_prefix` of the process dictionary, so that the migrate
  # session can tell them from the app's own output). A bad argument is
  # `{:error, message}`, and nothing is written.
  def run(argv) do
    {opts, files, invalid} =
      OptionParser.parse(argv,
        strict: [postgres: :string, lint_after: :string, advisory_lock: :boolean, skip: :keep]
      )

    with [] <- invalid,
         {:ok, pg} <- parse_postgres(opts[:postgres]),
         {:ok, after_v} <- parse_lint_after(opts[:lint_after]),
         :ok <- check_skips(Keyword.get_values(opts, :skip)) do
      config = %{
        pg: pg,
        lint_after: after_v,
        advisory_lock: Keyword.get(opts, :advisory_lock, false),
        skip: Keyword.get_values(opts, :skip)
      }

      {checked, skipped, allowed} =
        Enum.reduce(files, {0, 0, 0}, fn file, {c, s, a} ->
          case lint_file(file, config) do
            :skipped -> {c, s + 1, a}
            {:checked, allowed} -> {c + 1, s, a + allowed}
          end
        end)

      out(["done\t", Enum.map_join([checked, skipped, allowed], "\t", &Integer.to_string/1), "\n"])
      :ok
    else
      {:error, text} -> {:error, text}
      invalid -> {:error, "unknown option(s): #{Enum.map_join(invalid, ", ", &elem(&1, 0))}"}
    end
  end

  defp parse_postgres(nil),
    do: {:error, "--postgres MAJOR is required (the [toolchain] postgres pin, e.g. 16)"}

  defp parse_postgres(value) do
    case Integer.parse(value) do
      {major, rest} when major > 0 and (rest == "" or binary_part(rest, 0, 1) == ".") ->
        {:ok, major}

      _ ->
        {:error, "--postgres #{inspect(value)} is not a Postgres major version such as 16"}
    end
  end

  defp parse_lint_after(nil), do: {:ok, nil}
  defp parse_lint_after(""), do: {:ok, nil}

  defp parse_lint_after(value) do
    if value =~ ~r/^\d{14}$/,
      do: {:ok, value},
      else:
        {:error,
         "--lint-after #{inspect(value)} is not a 14-digit migration version such as 20240101120000"}
  end

  defp check_skips(skips) do
    case Enum.reject(skips, &(&1 in @rules)) do
      [] ->
        :ok

      bad ->
        {:error,
         "--skip names unknown rule(s) #{Enum.join(bad, ", ")}; known rules: #{Enum.join(@rules, ", ")}"}
    end
  end

  defp usage_error(message) do
    IO.puts(:stderr, "lint.exs: #{message}")

    IO.puts(
      :stderr,
      "usage: elixir lint.exs --postgres MAJOR [--lint-after VERSION] [--advisory-lock] [--skip RULE]... FILE..."
    )

    System.halt(2)
  end

  # ---------------------------------------------------------------------------------------
  # One file

  defp lint_file(path, config) do
    base = Path.basename(path)

    case Regex.run(~r/^(\d{14})_\w+\.exs$/, base) do
      nil ->
        error(
          path,
          0,
          "bad migration file name #{inspect(base)}: expected `<14-digit version>_<name>.exs`, e.g. `20240101120000_add_posts.exs` (`mix ecto.gen.migration add_posts` creates one)"
        )

        {:checked, 0}

      [_, version] ->
        if config.lint_after && version <= config.lint_after,
          do: :skipped,
          else: {:checked, lint_source(path, config)}
    end
  end

  # Reports the file's findings and returns how many an allow comment
  # silenced (the rules of --skip are not checked at all, so not counted).
  defp lint_source(path, config) do
    with {:ok, source} <- read(path),
         {:ok, ast, comments} <- parse(source) do
      findings = lint_ast(ast, path, config)
      allows = allows(comments, source)
      unknown = unknown_allow_findings(allows)

      {allowed, shown} =
        (findings ++ unknown)
        |> Enum.reject(fn {_, rule, _} -> rule in config.skip end)
        |> Enum.sort_by(fn {line, rule, _} -> {line, rule} end)
        |> Enum.uniq()
        |> Enum.split_with(&allowed?(&1, allows))

      Enum.each(shown, fn {line, rule, message} -> finding(path, line, rule, message) end)
      length(allowed)
    else
      {:error, line, message} ->
        error(path, line, message)
        0
    end
  rescue
    exception ->
      IO.puts(:stderr, Exception.format(:error, exception, __STACKTRACE__))

      error(
        path,
        0,
        "lint.exs crashed on this file (#{Exception.message(exception)}); please report it with the file attached"
      )

      0
  end

  defp read(path) do
    case File.read(path) do
      {:ok, source} -> {:ok, source}
      {:error, reason} -> {:error, 0, "cannot read the file: #{:file.format_error(reason)}"}
    end
  end

  defp parse(source) do
    if String.valid?(source) do
      case Code.string_to_quoted_with_comments(source, columns: true, token_metadata: true) do
        {:ok, ast, comments} ->
          {:ok, ast, comments}

        {:error, {location, message, token}} ->
          {line, column} = location(location)

          {:error, line,
           "syntax error at column #{column}: #{syntax_message(message, token)}; fix it so `mix compile` accepts the file"}
      end
    else
      {:error, 0, "the file is not valid UTF-8; save it as UTF-8"}
    end
  end

  defp location(line) when is_integer(line), do: {line, 0}

  defp location(meta) when is_list(meta),
    do: {Keyword.get(meta, :line, 0), Keyword.get(meta, :column, 0)}

  defp syntax_message({prefix, suffix}, token) when is_binary(prefix) and is_binary(suffix),
    do: "#{prefix}#{token}#{suffix}"

  defp syntax_message(message, token) when is_binary(message), do: "#{message}#{token}"
  defp syntax_message(message, token), do: "#{inspect(message)} #{inspect(token)}"

  # ---------------------------------------------------------------------------------------
  # Modules and functions

  # A file may hold helper modules (the backfilling guide snapshots a schema next to the
  # migration); only modules that define `change/0` or `up/0` are migrations.
  defp lint_ast(ast, path, config) do
    ast
    |> modules()
    |> Enum.flat_map(&lint_module(&1, path, config))
  end

  defp modules(ast) do
    {_, acc} =
      Macro.prewalk(ast, [], fn
        {:defmodule, _, [_name, [do: body]]} = node, acc -> {node, [body | acc]}
        node, acc -> {node, acc}
      end)

    Enum.reverse(acc)
  end

  defp lint_module(body, path, config) do
    statements = block(body)
    attrs = module_attributes(statements)
    functions = functions(statements)

    if Enum.any?(functions, fn {name, _} -> name in [:change, :up] end) do
      ctx = %{
        pg: config.pg,
        data_migration: String.contains?("/" <> path, "/data_migrations/"),
        ddl_off: attrs[:disable_ddl_transaction] == true,
        lock_off: attrs[:disable_migration_lock] == true or config.advisory_lock,
        fun: nil,
        table: nil,
        validated: false
      }

      {findings, concurrent} =
        Enum.reduce(functions, {[], []}, fn {name, fbody}, {fs, cs} ->
          fbody = fbody |> substitute_attributes(attrs) |> unpipe()
          fctx = %{ctx | fun: kind(name), validated: validates_constraint?(fbody)}
          st = walk(fbody, fctx, %{created: MapSet.new(), findings: [], concurrent: []})
          {fs ++ Enum.reverse(st.findings), cs ++ st.concurrent}
        end)

      safety_assured(findings ++ concurrency_findings(concurrent, ctx), attrs[:safety_assured])
    else
      []
    end
  end

  defp block({:__block__, _, statements}), do: statements
  defp block(statement), do: [statement]

  # Module attributes as written at the top level of the module, last value wins (that is the
  # value Ecto.Migration's __before_compile__ reads for @disable_ddl_transaction).
  defp module_attributes(statements) do
    Enum.reduce(statements, %{}, fn
      {:@, _, [{name, _, [value]}]}, acc when is_atom(name) -> Map.put(acc, name, value)
      _, acc -> acc
    end)
  end

  defp functions(statements) do
    Enum.flat_map(statements, fn
      {def, _, [head, [{:do, body} | _]]} when def in [:def, :defp] -> [{fun_name(head), body}]
      _ -> []
    end)
  end

  defp fun_name({:when, _, [head | _]}), do: fun_name(head)
  defp fun_name({name, _, args}) when is_atom(name) and args in [nil, []], do: name
  defp fun_name({name, _, _}) when is_atom(name), do: {:helper, name}
  defp fun_name(_), do: :unknown

  defp kind(:change), do: :change
  defp kind(:up), do: :up
  defp kind(:down), do: :down
  defp kind(_), do: :helper

  # `table(@table)` is common; literal attribute values are inlined so tables can be tracked.
  defp substitute_attributes(ast, attrs) do
    Macro.prewalk(ast, fn
      {:@, _, [{name, _, ctx}]} = node when is_atom(name) and is_atom(ctx) ->
        case Map.fetch(attrs, name) do
          {:ok, value} -> if Macro.quoted_literal?(value), do: value, else: node
          :error -> node
        end

      node ->
        node
    end)
  end

  # `:posts |> index([:x]) |> create()` is the same migration as `create(index(:posts, [:x]))`.
  defp unpipe(ast) do
    Macro.prewalk(ast, fn
      {:|>, _, [left, {fun, meta, args}]} when is_list(args) -> {fun, meta, [left | args]}
      node -> node
    end)
  end

  # The guide's Postgres 12+ recipe validates a NOT NULL check constraint in the same
  # migration before `modify ..., null: false`, which then skips the table scan.
  defp validates_constraint?(ast) do
    {_, found} =
      Macro.prewalk(ast, false, fn
        {:execute, _, [sql | _]} = node, acc ->
          {node, acc or (sql_text(sql) || "") =~ ~r/\bVALIDATE\s+CONSTRAINT\b/i}

        node, acc ->
          {node, acc}
      end)

    found
  end

  # ---------------------------------------------------------------------------------------
  # The walk: statements in order, so `create table` is known before later statements use it.

  # create table(...) do ... end
  defp walk({op, _, [{:table, _, targs} | rest]}, ctx, st) when op in @create_ops do
    key = table_key(targs)
    st = if key, do: %{st | created: MapSet.put(st.created, key)}, else: st

    case rest do
      [[do: body] | _] -> walk(body, %{ctx | table: {:create, key}}, st)
      _ -> st
    end
  end

  # alter table(...) do ... end
  defp walk({:alter, _, [{:table, _, targs}, [do: body] | _]}, ctx, st) do
    key = table_key(targs)
    mode = if new_table?(key, st), do: :create, else: :alter
    walk(body, %{ctx | table: {mode, key}}, st)
  end

  defp walk({op, meta, [{:table, _, targs} | _]}, ctx, st) when op in @drop_ops do
    key = table_key(targs)

    emit_unless_new(
      st,
      ctx,
      meta,
      key,
      "table_dropped",
      "dropping table #{name(key)} breaks every running instance that still queries it: remove its schema and all uses first, deploy, then drop the table in a later deploy"
    )
  end

  defp walk({:rename, meta, [{:table, _, targs}, [to: {:table, _, _}]]}, ctx, st) do
    key = table_key(targs)

    emit_unless_new(
      st,
      ctx,
      meta,
      key,
      "table_renamed",
      "renaming table #{name(key)} breaks running instances that still use the old name: rename the schema module only and keep `schema #{inspect(name(key))}`"
    )
  end

  defp walk({:rename, meta, [{:table, _, targs}, from, [to: to]]}, ctx, st) do
    key = table_key(targs)

    emit_unless_new(
      st,
      ctx,
      meta,
      key,
      "column_renamed",
      "renaming column #{code(from)} of #{name(key)} breaks running instances that still use the old name: keep the column and point the schema field at it with `source: #{code(from)}` (renamed to #{code(to)} only in code)"
    )
  end

  # rename index(...), to: ... only takes a brief lock.
  defp walk({:rename, _, [{itype, _, _} | _]}, _ctx, st) when itype in @index_types, do: st

  defp walk({op, meta, [{itype, _, iargs} | _]}, ctx, st)
       when op in @create_ops and itype in @index_types and is_list(iargs),
       do: index_op(:create, meta, itype, iargs, ctx, st)

  defp walk({op, meta, [{itype, _, iargs} | _]}, ctx, st)
       when op in @drop_ops and itype in @index_types and is_list(iargs),
       do: index_op(:drop, meta, itype, iargs, ctx, st)

  # An index built apart from `create` (bound to a variable first): it will be created.
  defp walk({itype, meta, iargs}, ctx, st)
       when itype in @index_types and is_list(iargs) and length(iargs) in [2, 3],
       do: index_op(:create, meta, itype, iargs, ctx, st)

  defp walk({op, meta, [{:constraint, _, cargs} | _]}, ctx, st)
       when op in @create_ops and is_list(cargs) do
    constraint_op(meta, cargs, ctx, st)
  end

  defp walk({op, meta, [column, type | rest]}, %{table: {mode, key}} = ctx, st)
       when op in [:add, :add_if_not_exists] do
    st
    |> add_column(meta, column, type, opts(rest), mode, key, ctx)
    |> walk_all(rest, ctx)
  end

  defp walk({:modify, meta, [column, type | rest]}, %{table: {mode, key}} = ctx, st) do
    modify_column(st, meta, column, type, opts(rest), mode, key, ctx)
  end

  defp walk({op, meta, [column | _]}, %{table: {:alter, key}} = ctx, st)
       when op in [:remove, :remove_if_exists] do
    emit(
      st,
      ctx,
      meta,
      "column_removed",
      "removing column #{code(column)} from #{name(key)} breaks running instances whose schema still loads it: remove the field from the Ecto schema and deploy that first, then drop the column in a later deploy"
    )
  end

  defp walk({exec, meta, args}, ctx, st)
       when exec in [:execute, :execute_file] and is_list(args) and args != [] do
    st =
      if ctx.fun == :change and length(args) == 1 do
        emit(
          st,
          ctx,
          meta,
          "raw_sql_executed",
          "`#{exec}/1` in `change/0` cannot be rolled back: give the down step too, `#{exec}(up, down)` (use \"\" when there is nothing to undo), or split the migration into `up/0` and `down/0`"
        )
      else
        st
      end

    st = if exec == :execute, do: sql_checks(st, meta, args, ctx), else: st
    walk_all(st, args, ctx)
  end

  # Repo.update_all(...), MyApp.Repo.insert!(...), repo().delete_all(...), repo().query!("UPDATE ...")
  defp walk({{:., _, [receiver, fun]}, meta, args}, ctx, st)
       when is_atom(fun) and is_list(args) do
    st =
      cond do
        not repo?(receiver) ->
          st

        Map.has_key?(@data_ops, fun) ->
          data_op(st, meta, Map.fetch!(@data_ops, fun), "`#{code_name(receiver)}.#{fun}`", ctx)

        fun in [:query, :query!] ->
          dml_check(st, meta, List.first(args), ctx)

        true ->
          st
      end

    st =
      if sql_adapter?(receiver) and fun in [:query, :query!],
        do: dml_check(st, meta, Enum.at(args, 1), ctx),
        else: st

    walk_all(st, args, ctx)
  end

  defp walk({fun, _, args}, ctx, st) when is_list(args) do
    st = if is_atom(fun), do: st, else: walk(fun, ctx, st)
    walk_all(st, args, ctx)
  end

  defp walk({left, right}, ctx, st), do: walk(right, ctx, walk(left, ctx, st))
  defp walk(list, ctx, st) when is_list(list), do: walk_all(st, list, ctx)
  defp walk(_leaf, _ctx, st), do: st

  defp walk_all(st, nodes, ctx), do: Enum.reduce(nodes, st, &walk(&1, ctx, &2))

  # ---------------------------------------------------------------------------------------
  # Rules

  defp index_op(kind, meta, itype, iargs, ctx, st) do
    {table, columns, opts} =
      case iargs do
        [t, c] -> {t, c, []}
        [t, c, o] -> {t, c, o}
        _ -> {nil, nil, :unknown}
      end

    concurrently = opt(opts, :concurrently) == true
    st = if concurrently, do: %{st | concurrent: [meta[:line] | st.concurrent]}, else: st
    key = table_key([table, opts])
    unique = itype == :unique_index or opt(opts, :unique) == true

    st =
      cond do
        concurrently or new_table?(key, st) ->
          st

        kind == :create ->
          emit(
            st,
            ctx,
            meta,
            "index_not_concurrently",
            "creating an index on #{name(key)} without `concurrently: true` blocks writes to the table: create it with #{@safe_index}, with no other change in this migration"
          )

        true ->
          emit(
            st,
            ctx,
            meta,
            "index_not_concurrently",
            "dropping an index on #{name(key)} without `concurrently: true` blocks reads and writes: drop it with #{@safe_index}"
          )
      end

    if kind == :create and not unique and is_list(columns) and length(columns) > 3 do
      emit(
        st,
        ctx,
        meta,
        "many_columns_index",
        "a non-unique index on #{length(columns)} columns rarely helps: index the most selective columns first, three at most"
      )
    else
      st
    end
  end

  defp constraint_op(meta, cargs, ctx, st) do
    {key, opts} =
      case cargs do
        [t, _name, o] -> {table_key([t, o]), o}
        [t, _name] -> {table_key([t]), []}
        _ -> {nil, :unknown}
      end

    exclusion_only = opt(opts, :exclude) != nil and opt(opts, :check) == nil

    cond do
      # Postgres can only add CHECK and FOREIGN KEY constraints as NOT VALID.
      exclusion_only or opt(opts, :validate) == false or new_table?(key, st) ->
        st

      true ->
        emit(
          st,
          ctx,
          meta,
          "check_constraint_added",
          "adding a check constraint to #{name(key)} scans every row under a lock that blocks reads and writes: create it with `validate: false`, then run `execute \"ALTER TABLE #{name(key)} VALIDATE CONSTRAINT ...\", \"\"` in a separate migration"
        )
    end
  end

  defp add_column(st, meta, column, type, opts, mode, key, ctx) do
    st =
      if json?(type),
        do:
          emit(
            st,
            ctx,
            meta,
            "json_column_added",
            "column #{code(column)} is `:json`, which has no equality operator (SELECT DISTINCT and GROUP BY fail on it): use `:map` (jsonb on Postgres) or `:jsonb`"
          ),
        else: st

    if mode == :alter do
      st
      |> reference_check(meta, column, type, key, ctx)
      |> default_check(meta, column, type, opts, key, ctx)
    else
      st
    end
  end

  defp reference_check(st, meta, column, {:references, _, rargs}, key, ctx) do
    ropts =
      case rargs do
        [_, o] -> o
        _ -> []
      end

    if opt(ropts, :validate) == false do
      st
    else
      emit(
        st,
        ctx,
        meta,
        "column_reference_added",
        "adding a foreign key on #{name(key)}.#{code_name(column)} blocks writes on both tables while every row is checked: use `references(..., validate: false)`, then `execute \"ALTER TABLE #{name(key)} VALIDATE CONSTRAINT #{name(key)}_#{code_name(column)}_fkey\", \"\"` in a separate migration"
      )
    end
  end

  defp reference_check(st, _meta, _column, _type, _key, _ctx), do: st

  defp default_check(st, meta, column, type, opts, key, ctx) do
    default = opt(opts, :default)

    cond do
      type in @serial_types ->
        emit(
          st,
          ctx,
          meta,
          "column_volatile_default",
          "adding #{code(type)} column #{code(column)} to existing table #{name(key)} rewrites it (its `nextval()` default is volatile): add a plain integer column, backfill it in batches, then attach the sequence"
        )

      default == nil ->
        st

      volatile?(default) ->
        emit(
          st,
          ctx,
          meta,
          "column_volatile_default",
          "the volatile default #{code(default)} makes Postgres rewrite #{name(key)} under an ACCESS EXCLUSIVE lock, computing it for every row: add #{code(column)} without a default, backfill it in batches, then set the default with `execute/2`"
        )

      ctx.pg < 11 ->
        emit(
          st,
          ctx,
          meta,
          "column_added_with_default",
          "on Postgres #{ctx.pg} (before 11) adding #{code(column)} with a default rewrites #{name(key)} under an ACCESS EXCLUSIVE lock: add the column without a default, then `execute \"ALTER TABLE #{name(key)} ALTER COLUMN #{code_name(column)} SET DEFAULT ...\", \"ALTER TABLE #{name(key)} ALTER COLUMN #{code_name(column)} DROP DEFAULT\"` in a later migration"
        )

      true ->
        st
    end
  end

  defp modify_column(st, _meta, _column, _type, _opts, :create, _key, _ctx), do: st

  defp modify_column(st, meta, column, type, opts, :alter, key, ctx) do
    {from_type, from_opts} = split_from(opt(opts, :from))

    st =
      cond do
        from_type == nil ->
          emit(
            st,
            ctx,
            meta,
            "column_type_changed",
            "`modify` always sets the type of #{name(key)}.#{code_name(column)} under an ACCESS EXCLUSIVE lock and rewrites the table when the type changes: for a new type add a new column, write to both, backfill, switch reads, then drop the old one; to change only the default or nullability use `execute/2` with `ALTER COLUMN`, or state the unchanged type with `from:`"
          )

        not same_type?(from_type, type) ->
          emit(
            st,
            ctx,
            meta,
            "column_type_changed",
            "changing #{name(key)}.#{code_name(column)} from #{code(from_type)} to #{code(type)} rewrites the table under an ACCESS EXCLUSIVE lock: add a new column, write to both, backfill, switch reads to it, then drop the old one"
          )

        size_shrinks?(type, from_opts, opts) ->
          emit(
            st,
            ctx,
            meta,
            "column_type_changed",
            "shrinking the size, precision or scale of #{name(key)}.#{code_name(column)} rewrites the table under an ACCESS EXCLUSIVE lock: add a new column, backfill, switch reads, then drop the old one"
          )

        true ->
          st
      end

    st =
      if opt(opts, :null) == false and opt(from_opts, :null) != false and
           not (ctx.pg >= 12 and ctx.validated) do
        emit(
          st,
          ctx,
          meta,
          "not_null_added",
          "`null: false` on existing column #{name(key)}.#{code_name(column)} scans the whole table under an ACCESS EXCLUSIVE lock: add `create constraint(#{inspect(name(key))}, :#{code_name(column)}_not_null, check: \"#{code_name(column)} IS NOT NULL\", validate: false)`, backfill, validate it in a later migration, then set NOT NULL (Postgres 12+ then skips the scan)"
        )
      else
        st
      end

    st =
      if json?(type) and not json?(from_type),
        do:
          emit(
            st,
            ctx,
            meta,
            "json_column_added",
            "column #{code(column)} becomes `:json`, which has no equality operator: use `:map` (jsonb on Postgres) or `:jsonb`"
          ),
        else: st

    reference_check(st, meta, column, type, key, ctx)
  end

  # `from: {:string, null: true}` is a type with options; `from: {:array, :string}` is a type.
  defp split_from(nil), do: {nil, []}
  defp split_from({type, opts}) when is_list(opts), do: {type, opts}
  defp split_from(type), do: {type, []}

  defp same_type?(a, b) do
    case {strip(a), strip(b)} do
      {{:references, _, _}, {:references, _, _}} -> true
      # varchar to text never rewrites (safe_migrations guide, "Changing the type of a column").
      {:string, :text} -> true
      {x, x} -> true
      _ -> false
    end
  end

  # Growing a varchar or a numeric's precision is metadata-only; shrinking either, limiting an
  # unlimited one, or changing a numeric's scale rewrites (safe_migrations guide).
  defp size_shrinks?(type, from_opts, opts) do
    old_size = opt(from_opts, :size) || if(strip(type) == :string, do: 255)
    scale_changes = opt(opts, :scale) != opt(from_opts, :scale)

    smaller?(opt(opts, :size), old_size) or
      smaller?(opt(opts, :precision), opt(from_opts, :precision)) or scale_changes
  end

  defp smaller?(new, old) when is_integer(new) and is_integer(old), do: new < old
  defp smaller?(new, nil) when is_integer(new), do: true
  defp smaller?(_, _), do: false

  defp json?(:json), do: true
  defp json?({:array, :json}), do: true
  defp json?(_), do: false

  # Only SQL defaults can be volatile: an Elixir expression is evaluated once, when the
  # migration runs. now() and friends are STABLE in Postgres (pg_proc.provolatile = 's'), so
  # 11+ stores them as a fast default without a rewrite; any other function may be volatile.
  defp volatile?({:fragment, _, [sql | _]}) do
    case sql_text(sql) do
      nil -> true
      text -> not stable_sql?(text)
    end
  end

  defp volatile?(_), do: false

  defp stable_sql?(text) do
    text = text |> String.downcase() |> String.replace(~r/\s+/, " ") |> String.trim()

    clock =
      "(now\\(\\)|current_timestamp|current_date|current_time|localtimestamp|localtime|transaction_timestamp\\(\\)|statement_timestamp\\(\\))"

    Enum.any?(
      [
        ~r/^\(?#{clock}( at time zone '[^']*')?\)?(::[a-z ]+)?$/,
        ~r/^timezone\('[^']*', ?#{clock}\)$/,
        ~r/^('[^']*'|-?\d+(\.\d+)?|true|false|null)(::[a-z_ \[\]]+)?$/
      ],
      &(text =~ &1)
    )
  end

  defp sql_checks(st, meta, args, ctx) do
    texts = args |> Enum.map(&sql_text/1) |> Enum.reject(&is_nil/1)

    st =
      if Enum.any?(texts, &(&1 =~ ~r/\bCONCURRENTLY\b/i)),
        do: %{st | concurrent: [meta[:line] | st.concurrent]},
        else: st

    case sql_text(List.first(args)) do
      nil ->
        st

      up ->
        st
        |> raw_index_check(meta, up, ctx)
        |> raw_ddl_check(meta, up, ctx)
        |> enum_check(meta, up, ctx)
        |> dml_check(meta, List.first(args), ctx)
    end
  end

  defp raw_index_check(st, meta, sql, ctx) do
    cond do
      sql =~ ~r/\bCREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)/i and
          not new_table?(sql_table(sql), st) ->
        emit(
          st,
          ctx,
          meta,
          "index_not_concurrently",
          "`CREATE INDEX` without `CONCURRENTLY` blocks writes to the table: use `CREATE INDEX CONCURRENTLY` and set `@disable_ddl_transaction true` and `@disable_migration_lock true`"
        )

      sql =~ ~r/\bDROP\s+INDEX\b(?!\s+CONCURRENTLY)/i ->
        emit(
          st,
          ctx,
          meta,
          "index_not_concurrently",
          "`DROP INDEX` without `CONCURRENTLY` blocks reads and writes: use `DROP INDEX CONCURRENTLY` and set `@disable_ddl_transaction true` and `@disable_migration_lock true`"
        )

      true ->
        st
    end
  end

  # The same hazards as the Ecto forms, spelled in SQL: `execute/2` must not be a blind spot.
  # A function, not a module attribute: newer Elixir/OTP refuse compiled regexes in attributes.
  defp raw_ddl do
    [
      {~r/\bALTER\s+COLUMN\s+\S+\s+(SET\s+DATA\s+)?TYPE\b/i, "column_type_changed",
       "`ALTER COLUMN ... TYPE` rewrites the table under an ACCESS EXCLUSIVE lock: add a new column, write to both, backfill, switch reads, then drop the old one"},
      {~r/\bSET\s+NOT\s+NULL\b/i, "not_null_added",
       "`SET NOT NULL` scans the whole table under an ACCESS EXCLUSIVE lock: first add a `CHECK (col IS NOT NULL) NOT VALID` constraint, backfill, and `VALIDATE CONSTRAINT` it in this migration before `SET NOT NULL` (Postgres 12+ then skips the scan)"},
      {~r/\bALTER\s+TABLE\b.*\b(FOREIGN\s+KEY|REFERENCES)\b(?!.*\bNOT\s+VALID\b)/is,
       "column_reference_added",
       "a foreign key added without `NOT VALID` blocks writes on both tables while every row is checked: add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a separate migration"},
      {~r/\bALTER\s+TABLE\b.*\bADD\s+(CONSTRAINT\s+\S+\s+)?CHECK\b(?!.*\bNOT\s+VALID\b)/is,
       "check_constraint_added",
       "a check constraint added without `NOT VALID` scans every row under a lock that blocks reads and writes: add it `NOT VALID`, then `VALIDATE CONSTRAINT` in a separate migration"},
      {~r/\bDROP\s+COLUMN\b/i, "column_removed",
       "`DROP COLUMN` breaks running instances whose schema still loads the column: remove the field from the Ecto schema and deploy that first, then drop the column in a later deploy"},
      {~r/\bDROP\s+TABLE\b/i, "table_dropped",
       "`DROP TABLE` breaks every running instance that still queries the table: remove its schema and all uses first, deploy, then drop it in a later deploy"},
      {~r/\bRENAME\s+COLUMN\b/i, "column_renamed",
       "`RENAME COLUMN` breaks running instances that still use the old name: keep the column and point the schema field at it with `source:`"},
      {~r/\bALTER\s+TABLE\s+(IF\s+EXISTS\s+)?\S+\s+RENAME\s+TO\b/i, "table_renamed",
       "renaming a table breaks running instances that still use the old name: rename the schema module only and keep the table name"}
    ]
  end

  defp raw_ddl_check(st, meta, sql, ctx) do
    Enum.reduce(raw_ddl(), st, fn {regex, rule, message}, st ->
      cond do
        not (sql =~ regex) -> st
        rule == "not_null_added" and ctx.pg >= 12 and ctx.validated -> st
        true -> emit(st, ctx, meta, rule, message)
      end
    end)
  end

  defp enum_check(st, meta, sql, ctx) do
    if ctx.pg < 12 and not ctx.ddl_off and sql =~ ~r/\bALTER\s+TYPE\b.*\bADD\s+VALUE\b/is do
      emit(
        st,
        ctx,
        meta,
        "enum_value_added_in_transaction",
        "`ALTER TYPE ... ADD VALUE` cannot run inside a transaction before Postgres 12 (this is #{ctx.pg}): set `@disable_ddl_transaction true` and `@disable_migration_lock true`"
      )
    else
      st
    end
  end

  # A statement of the SQL (not inside a $$-quoted function body) that changes rows.
  defp dml_check(st, meta, sql_ast, ctx) do
    sql = String.replace(sql_text(sql_ast) || "", ~r/\$(\w*)\$.*?\$\1\$/s, "")

    case Regex.run(~r/(?:^|;)\s*(?:WITH\b.*?\)\s*)?(INSERT|UPDATE|DELETE)\b/is, sql) do
      [_, verb] ->
        data_op(
          st,
          meta,
          "operation_" <> String.downcase(verb),
          "`#{String.upcase(verb)}` SQL",
          ctx
        )

      nil ->
        st
    end
  end

  defp data_op(st, _meta, _rule, _what, %{data_migration: true}), do: st

  defp data_op(st, meta, rule, what, ctx) do
    emit(
      st,
      ctx,
      meta,
      rule,
      "data change (#{what}) in a schema migration runs unbatched inside the migration's transaction and locks: move it to a data migration under priv/repo/data_migrations that runs batched and throttled with `@disable_ddl_transaction true` and `@disable_migration_lock true` (ecto_sql's backfilling guide)"
    )
  end

  defp concurrency_findings([], _ctx), do: []

  defp concurrency_findings(lines, ctx) do
    line = Enum.min(lines)

    ddl =
      if ctx.ddl_off,
        do: [],
        else: [
          {line, "index_concurrently_without_disable_ddl_transaction",
           "`concurrently` cannot run inside the migration's DDL transaction: add `@disable_ddl_transaction true` to the module"}
        ]

    lock =
      if ctx.lock_off,
        do: [],
        else: [
          {line, "index_concurrently_without_disable_migration_lock",
           "`concurrently` cannot run while the migration lock holds its transaction: add `@disable_migration_lock true` to the module (or configure the repo with `migration_lock: :pg_advisory_lock`)"}
        ]

    ddl ++ lock
  end

  # excellent_migrations' deprecated `@safety_assured [:rule]` / `@safety_assured :all`.
  defp safety_assured(_findings, :all), do: []

  defp safety_assured(findings, rules) when is_list(rules) do
    names = Enum.map(rules, &to_string/1)
    Enum.reject(findings, fn {_, rule, _} -> rule in names end)
  end

  defp safety_assured(findings, _), do: findings

  # ---------------------------------------------------------------------------------------
  # Silencing

  defp allows(comments, source) do
    lines = source |> String.split("\n") |> List.to_tuple()

    Enum.reduce(comments, %{file: MapSet.new(), lines: MapSet.new(), named: []}, fn comment,
                                                                                    acc ->
      text = comment.text
      line = comment.line

      cond do
        match = Regex.run(~r/^#\s*xtask:allow\s+(.+)$/, text) ->
          rules = rule_list(Enum.at(match, 1))
          target = if trailing?(lines, comment), do: line, else: next_code_line(lines, line)
          acc = %{acc | named: acc.named ++ Enum.map(rules, &{line, &1})}
          %{acc | lines: Enum.reduce(rules, acc.lines, &MapSet.put(&2, {target, &1}))}

        match =
            Regex.run(
              ~r/^#\s*excellent_migrations\s*:\s*safety-assured-for-next-line\s+(.+)$/,
              text
            ) ->
          target = next_code_line(lines, line)

          %{
            acc
            | lines:
                Enum.reduce(
                  rule_list(Enum.at(match, 1)),
                  acc.lines,
                  &MapSet.put(&2, {target, &1})
                )
          }

        match =
            Regex.run(
              ~r/^#\s*excellent_migrations\s*:\s*safety-assured-for-this-file\s+(.+)$/,
              text
            ) ->
          %{acc | file: Enum.reduce(rule_list(Enum.at(match, 1)), acc.file, &MapSet.put(&2, &1))}

        true ->
          acc
      end
    end)
  end

  # `# xtask:allow RULE [RULE...] [-- reason]`
  defp rule_list(text) do
    text |> String.split("--", parts: 2) |> hd() |> String.split(~r/[\s,]+/, trim: true)
  end

  defp trailing?(lines, %{line: line, column: column}) do
    before = lines |> elem(line - 1) |> String.slice(0, column - 1)
    String.trim(before) != ""
  end

  # Stacked comments and blank lines between an allow comment and its code are skipped.
  defp next_code_line(lines, line) do
    Enum.find((line + 1)..max(line + 1, tuple_size(lines)), line + 1, fn n ->
      n <= tuple_size(lines) and code_line?(elem(lines, n - 1))
    end)
  end

  defp code_line?(text) do
    text = String.trim(text)
    text != "" and not String.starts_with?(text, "#")
  end

  defp unknown_allow_findings(allows) do
    for {line, rule} <- allows.named, rule not in @rules do
      {line, "allow_unknown_rule",
       "`# xtask:allow #{rule}` names no rule: use one of #{Enum.join(@rules -- ["allow_unknown_rule"], ", ")}"}
    end
  end

  defp allowed?({line, rule, _}, allows) do
    MapSet.member?(allows.file, rule) or MapSet.member?(allows.lines, {line, rule})
  end

  # ---------------------------------------------------------------------------------------
  # Helpers

  # A `down/0` undoes its `up/0`: dropping what up created is its job, so only the locking of
  # index builds and drops (which hurts in either direction) is checked there.
  # Breaking only for a table that existed before this migration.
  defp emit_unless_new(st, ctx, meta, key, rule, message) do
    if new_table?(key, st), do: st, else: emit(st, ctx, meta, rule, message)
  end

  defp emit(st, %{fun: :down}, _meta, rule, _message) when rule != "index_not_concurrently",
    do: st

  defp emit(st, _ctx, meta, rule, message) do
    line = if is_list(meta), do: Keyword.get(meta, :line, 0), else: meta
    %{st | findings: [{line, rule, message} | st.findings]}
  end

  defp opts([opts]) when is_list(opts), do: opts
  defp opts([]), do: []
  defp opts(_), do: :unknown

  defp opt(list, key) when is_list(list) do
    Enum.find_value(list, fn
      {^key, value} -> {:found, value}
      _ -> nil
    end)
    |> case do
      {:found, value} -> value
      nil -> nil
    end
  end

  defp opt(_, _), do: nil

  # {prefix, name} for literal table names; nil when the name is computed at run time.
  defp table_key([name | rest]) when is_atom(name) or is_binary(name) do
    prefix =
      case rest do
        [o | _] -> opt(o, :prefix)
        [] -> nil
      end

    if prefix == nil or is_atom(prefix) or is_binary(prefix),
      do: {to_string_or_nil(prefix), to_string(name)},
      else: nil
  end

  defp table_key(_), do: nil

  defp to_string_or_nil(nil), do: nil
  defp to_string_or_nil(value), do: to_string(value)

  defp sql_table(sql) do
    case Regex.run(~r/\bON\s+(?:ONLY\s+)?"?([\w]+)"?(?:\."?([\w]+)"?)?/i, sql) do
      [_, name] -> {nil, name}
      [_, prefix, name] -> {prefix, name}
      nil -> nil
    end
  end

  defp new_table?(nil, _st), do: false
  defp new_table?(key, st), do: MapSet.member?(st.created, key)

  defp name(nil), do: "the table"
  defp name({nil, table}), do: table
  defp name({prefix, table}), do: "#{prefix}.#{table}"

  defp code(ast), do: "`#{ast |> strip() |> Macro.to_string()}`"

  defp code_name(ast) when is_atom(ast) or is_binary(ast), do: to_string(ast)
  defp code_name(ast), do: ast |> strip() |> Macro.to_string()

  defp strip(ast), do: Macro.prewalk(ast, &Macro.update_meta(&1, fn _ -> [] end))

  defp repo?({:__aliases__, _, parts}), do: :Repo in parts
  defp repo?({:repo, _, args}) when args in [nil, []], do: true
  defp repo?(_), do: false

  defp sql_adapter?({:__aliases__, _, [:Ecto, :Adapters, :SQL]}), do: true
  defp sql_adapter?(_), do: false

  # The text of a literal SQL string, heredoc or ~s sigil; interpolations become "?".
  defp sql_text(text) when is_binary(text), do: text

  defp sql_text({:<<>>, _, parts}),
    do: Enum.map_join(parts, fn p -> if is_binary(p), do: p, else: "?" end)

  defp sql_text({sigil, _, [inner, _mods]}) when sigil in [:sigil_s, :sigil_S],
    do: sql_text(inner)

  defp sql_text(_), do: nil

  # ---------------------------------------------------------------------------------------
  # Output

  defp finding(path, line, rule, message) do
    out([
      "finding\t",
      escape(path),
      "\t",
      Integer.to_string(line),
      "\t",
      rule,
      "\t",
      escape(message),
      "\n"
    ])
  end

  defp error(path, line, message) do
    out(["error\t", escape(path), "\t", Integer.to_string(line), "\t", escape(message), "\n"])
  end

  defp out(record) do
    IO.write([Process.get(:migrate_lint_prefix, "") | record])
  end

  defp escape(text) do
    text
    |> String.replace("\\", "\\\\")
    |> String.replace("\t", "\\t")
    |> String.replace("\r", "\\r")
    |> String.replace("\n", "\\n")
  end
end

# Run as a script; the migrate session loads the module only and calls run/1.
unless Application.get_env(:phx_xtask, :lint_loaded_only),
  do: MigrateLint.main(System.argv())
