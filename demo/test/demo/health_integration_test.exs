# Integration tests: Demo.Health against the services the CI tool started.
defmodule Demo.HealthIntegrationTest do
  use Demo.Case, async: true
  @moduletag :integration

  test "both services are up at the configured URLs" do
    # config/runtime.exs copies DATABASE_URL and REDIS_URL into the app env.
    report = Demo.Health.check()
    assert report == %{postgres: :ok, redis: :ok}
    assert Demo.Health.healthy?(report)
  end

  test "a closed port is reported, not raised" do
    report = Demo.Health.check("postgres://u:p@127.0.0.1:1/db", redis_url!())
    assert %{postgres: {:error, :econnrefused}, redis: :ok} = report
  end
end
